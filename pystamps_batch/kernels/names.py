"""The kernel names: the seed's eight, plus the CLAP filters that profiling showed to dominate."""

KERNEL_NAMES: tuple[str, ...] = (
    "stage2_grid_accumulate",
    "stage2_histogram",
    "stage2_topofit",
    "stage2_topofit_row_invariant",
    "stage2_topofit_coh_row_invariant",
    "stage4_edge_stats",
    "stage7_scla",
    "stage8_edge_noise",
    # added after profiling (issue 5): where stages 2 and 3 spend their time
    "stage2_clap_filter",
    "stage3_clap_filt_patch",
    "stage2_random_phase_coh",
    "stage3_patch_phase",
)
