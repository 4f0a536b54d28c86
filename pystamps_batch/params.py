"""StaMPS processing parameters: defaults (spec B.2) and lookup (``parms.mat`` semantics).

A :class:`Params` is an immutable mapping from StaMPS parameter names to values.
It is built from the defaults below, then the dataset's ``parms.mat`` (root, or the
patch's own / its parent's as StaMPS looks it up), then values derived from the
dataset's ``*.1.in`` files (``lambda``, ``heading``, ``slc_osf``), then the config's
``stamps:`` overrides.  Flags are kept as MATLAB-style one-letter strings ('y'/'n').
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

INF = math.inf

#: name -> default value, PS mode (small_baseline_flag = 'n'), spec B.2.
DEFAULTS: dict[str, Any] = {
    "small_baseline_flag": "n",
    "insar_processor": "doris",
    "max_topo_err": 20.0,
    "quick_est_gamma_flag": "y",
    "select_reest_gamma_flag": "y",
    "filter_grid_size": 50.0,
    "filter_weighting": "P-square",
    "gamma_change_convergence": 0.005,
    "gamma_max_iterations": 3,
    "slc_osf": 1.0,
    "clap_win": 32,
    "clap_low_pass_wavelength": 800.0,
    "clap_alpha": 1.0,
    "clap_beta": 0.3,
    "select_method": "DENSITY",
    "density_rand": 20.0,
    "percent_rand": 20.0,
    "gamma_stdev_reject": 0.0,
    "weed_time_win": 730.0,
    "weed_max_noise": INF,
    "weed_standard_dev": 1.0,
    "weed_zero_elevation": "n",
    "weed_neighbours": "n",
    "drop_ifg_index": [],
    "unwrap_method": "3D",
    "unwrap_patch_phase": "n",
    "unwrap_la_error_flag": "y",
    "unwrap_spatial_cost_func_flag": "n",
    "unwrap_prefilter_flag": "y",
    "unwrap_grid_size": 200.0,
    "unwrap_gold_n_win": 32,
    "unwrap_alpha": 8.0,
    "unwrap_time_win": 730.0,
    "unwrap_gold_alpha": 0.8,
    "unwrap_hold_good_values": "n",
    "scla_drop_index": [],
    "scla_method": "L2",
    "scla_deramp": "n",
    "scn_wavelength": 100.0,
    "scn_time_win": 365.0,
    "scn_deramp_ifg": [],
    "scn_kriging_flag": "n",
    "ref_lon": [-INF, INF],
    "ref_lat": [-INF, INF],
    "ref_centre_lonlat": [0.0, 0.0],
    "ref_radius": INF,
    "ref_velocity": 0.0,
    "n_cores": 1,
    "plot_dem_posting": 90.0,
    "plot_scatterer_size": 120.0,
    "plot_pixels_scatterer": 3,
    "plot_color_scheme": "inflation",
    "shade_rel_angle": [90.0, 45.0],
    "lonlat_offset": [0.0, 0.0],
    "merge_resample_size": 0.0,
    "merge_standard_dev": INF,
    "lambda": math.nan,
    "heading": math.nan,
    "subtr_tropo": "n",
    "tropo_method": "a_l",
}

#: Parameters whose value is a list of numbers (MATLAB row vectors; ``[]`` = empty).
LIST_PARAMS = frozenset(
    {"drop_ifg_index", "scla_drop_index", "scn_deramp_ifg", "ref_lon", "ref_lat",
     "ref_centre_lonlat", "shade_rel_angle", "lonlat_offset"}
)
#: Parameters whose value is a string (flags and method names).
STRING_PARAMS = frozenset(k for k, v in DEFAULTS.items() if isinstance(v, str))


class Params(Mapping[str, Any]):
    """Read-only StaMPS parameter set; ``p['clap_win']`` or ``p.get(...)``.

    ``flag(name)`` returns True for 'y'/'yes'; ``index_list(name)`` returns a
    list of ints (1-based, as StaMPS stores them) for the index parameters.
    """

    def __init__(self, values: Mapping[str, Any] | None = None):
        merged = dict(DEFAULTS)
        if values:
            merged.update(values)
        self._values = merged

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def flag(self, key: str) -> bool:
        return str(self._values[key]).strip().lower() in ("y", "yes", "1", "true")

    def index_list(self, key: str) -> list[int]:
        v = self._values.get(key, [])
        if isinstance(v, str):
            return [] if v.strip() in ("", "[]") else [int(t) for t in v.replace(",", " ").split()]
        if v is None:
            return []
        try:
            return [int(x) for x in list(v)]
        except TypeError:
            return [int(v)]

    def replace(self, **updates: Any) -> "Params":
        d = dict(self._values)
        d.update(updates)
        return Params(d)

    def as_dict(self) -> dict[str, Any]:
        return dict(self._values)


def coerce_value(name: str, value: Any) -> Any:
    """Normalise a value from parms.mat or YAML to the Python type of its default.

    Raises ValueError with a short reason when the value cannot be coerced.
    """
    import numpy as np

    default = DEFAULTS.get(name)
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "US":
            value = "".join(np.asarray(value).ravel().tolist())
        elif value.size == 0:
            value = []
        elif name in LIST_PARAMS or value.size > 1:
            value = [float(x) for x in value.ravel()]
        else:
            value = value.ravel()[0].item()
    if name in STRING_PARAMS:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {value!r}")
        return value
    if name in LIST_PARAMS:
        if isinstance(value, str):
            if value.strip().lower() == "all":
                return "all"
            value = [float(t) for t in value.replace(",", " ").replace("[", " ").replace("]", " ").split()]
        if isinstance(value, (int, float)):
            value = [value]
        return [float(x) if not float(x).is_integer() or math.isinf(float(x)) else int(x) for x in value] \
            if name not in ("ref_lon", "ref_lat", "ref_centre_lonlat", "shade_rel_angle", "lonlat_offset") \
            else [float(x) for x in value]
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, int):
        f = float(value)
        if not f.is_integer():
            raise ValueError(f"expected an integer, got {value!r}")
        return int(f)
    if isinstance(default, float):
        if isinstance(value, str):
            value = value.strip().lower().replace("inf", "inf")
        return float(value)
    return value
