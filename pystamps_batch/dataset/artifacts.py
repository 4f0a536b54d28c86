"""Which files each stage writes (spec C.0), per patch and at the merged root.

Units of work: stages 1-4 and 5a (``ps_correct_phase``) run per patch; 5b (merge
and ``ps_calc_ifg_std``), 6, 7 and 8 run once at the dataset root ("merged").
Names are given without ``.mat``.
"""
from __future__ import annotations

from dataclasses import dataclass

PATCH = "patch"
MERGED = "merged"


@dataclass(frozen=True)
class StageSpec:
    stage: int
    scope: str          # "patch" or "merged"
    label: str          # "1".."4", "5a", "5b", "6".."8"
    name: str           # StaMPS function name
    writes: tuple[str, ...]
    optional_writes: tuple[str, ...] = ()   # written only when the input has them (inc2)
    params: tuple[str, ...] = ()            # StaMPS parameters the stage reads (spec H)


_P2 = ("filter_grid_size", "filter_weighting", "clap_win", "clap_low_pass_wavelength", "clap_alpha", "clap_beta",
       "max_topo_err", "lambda", "gamma_change_convergence", "gamma_max_iterations", "small_baseline_flag")
_P3 = ("slc_osf", "clap_alpha", "clap_beta", "clap_win", "select_method", "density_rand", "percent_rand",
       "gamma_stdev_reject", "drop_ifg_index", "select_reest_gamma_flag", "quick_est_gamma_flag")
_P4 = ("weed_time_win", "weed_standard_dev", "weed_max_noise", "weed_zero_elevation", "weed_neighbours",
       "drop_ifg_index")
_P6 = ("unwrap_method", "unwrap_patch_phase", "unwrap_la_error_flag", "unwrap_spatial_cost_func_flag",
       "unwrap_prefilter_flag", "unwrap_grid_size", "unwrap_gold_n_win", "unwrap_time_win", "unwrap_gold_alpha",
       "unwrap_hold_good_values", "drop_ifg_index", "max_topo_err", "lambda", "scla_deramp", "subtr_tropo",
       "tropo_method")
_REF = ("ref_lon", "ref_lat", "ref_centre_lonlat", "ref_radius")
_P7 = ("drop_ifg_index", "scla_drop_index", "scla_method", "scla_deramp", "subtr_tropo", "tropo_method") + _REF
_P8 = ("scn_time_win", "scn_deramp_ifg", "scn_wavelength", "drop_ifg_index", "scn_kriging_flag", "lambda") + _REF

STAGES: tuple[StageSpec, ...] = (
    StageSpec(1, PATCH, "1", "ps_load_initial", ("ps1", "ph1", "bp1", "la1", "da1", "hgt1")),
    StageSpec(2, PATCH, "2", "ps_est_gamma_quick", ("pm1",), params=_P2),
    StageSpec(3, PATCH, "3", "ps_select", ("select1",), params=_P3),
    StageSpec(4, PATCH, "4", "ps_weed", ("weed1", "ps2", "ph2", "pm2", "bp2", "la2", "hgt2"), ("inc2",), _P4),
    StageSpec(5, PATCH, "5a", "ps_correct_phase", ("rc2",)),
    StageSpec(5, MERGED, "5b", "ps_merge_patches", ("ps2", "ph2", "rc2", "pm2", "bp2", "la2", "hgt2", "inc2",
                                                     "ifgstd2"), ("phuw2", "scla2", "scn2"),
              ("merge_resample_size", "merge_standard_dev", "heading")),
    StageSpec(6, MERGED, "6", "ps_unwrap", ("uw_grid", "uw_interp", "uw_space_time", "uw_phaseuw", "phuw2"),
              params=_P6),
    StageSpec(7, MERGED, "7", "ps_calc_scla", ("scla2", "scla_smooth2"), params=_P7),
    StageSpec(8, MERGED, "8", "ps_scn_filt", ("scn2", "mean_v", "ps_plot_v-d", "ps_plot_v-do", "ps_plot_v-dso"),
              params=_P8),
)

#: files that mark a unit's stage as done for status (one file per stage is enough
#: to see "has run"; completeness checks all ``writes``).
PATCH_STAGES = tuple(s for s in STAGES if s.scope == PATCH)
MERGED_STAGES = tuple(s for s in STAGES if s.scope == MERGED)


def stage_spec(stage: int, scope: str) -> StageSpec:
    for s in STAGES:
        if s.stage == stage and s.scope == scope:
            return s
    raise KeyError((stage, scope))


def later_patch_stages(stage: int) -> tuple[StageSpec, ...]:
    """Patch stages after ``stage`` (their outputs depend on it)."""
    return tuple(s for s in PATCH_STAGES if s.stage > stage)


def later_merged_stages(stage: int, include_merge: bool) -> tuple[StageSpec, ...]:
    """Merged stages after ``stage``; with ``include_merge`` the merge (5b) counts as later."""
    return tuple(s for s in MERGED_STAGES if s.stage > stage or (include_merge and s.stage == stage))
