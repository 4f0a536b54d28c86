"""The kernel names of the seed's contract (the registry's keys)."""

KERNEL_NAMES: tuple[str, ...] = (
    "stage2_grid_accumulate",
    "stage2_histogram",
    "stage2_topofit",
    "stage2_topofit_row_invariant",
    "stage2_topofit_coh_row_invariant",
    "stage4_edge_stats",
    "stage7_scla",
    "stage8_edge_noise",
)
