"""``pystamps export``: per-PS LOS displacement time series, mean velocity and attributes
of a processed dataset, as a CF-1.10 NetCDF4 file or a CSV table.

Corrections (``--corrections``, default ``d,o``, i.e. StaMPS' ``ps_plot('v-do')``):

* ``d``: the spatially-correlated look-angle (DEM) error ``scla2.ph_scla`` (step 7);
* ``o``: a planar ramp per image (``ps_deramp`` degree 1), removed after the other terms;
* ``s``: the spatially-correlated nuisance ``scn2.ph_scn_slave`` (step 8).

The terms are removed by :func:`pystamps_batch.products.velocity_phase` exactly as the
velocity product removes them; the velocity itself is
:func:`pystamps_batch.products.velocity` of the matching kind (``'v'`` + ``'-'`` + the
letters in the order d, s, o), so it equals ``ps_plot_<kind>.mat`` ``ph_disp``.
(For exactly ``'v-d'`` StaMPS also removes the master AOE ``C_ps_uw``; that per-PS
constant changes only the intercept, so the series keeps it and stays 0 at the master.)

Displacement (mm, positive = towards the satellite, i.e. range decrease)::

    phi   = phuw2.ph_uw - corrections                         (n x N, rad)
    phi_r = phi - nanmean(phi[ref, k])  for every image k     (ref = ps_setref pixels)
    d     = -phi_r * lambda / (4 pi) * 1000

It is 0 at the master date, and its generalised least-squares slope over the images
the velocity uses (``drop_ifg_index`` and the master left out, weights
``1 / (ifg_std * pi / 181)^2``) is the velocity (mm/yr with a year of 365.25 days),
up to float32 rounding.

Velocity standard deviation: the formal standard error of that GLS slope scaled by
the a-posteriori variance factor (MATLAB ``lscov``'s ``stdx``):
``sqrt(r' W r / (K - 2) * inv(A' W A)[1, 1])`` over the K used images, converted to
mm/yr; NaN with fewer than 3 used images.  It ignores the temporal correlation of
the residuals (unmodelled non-linear motion), so it is optimistic for non-linear
motion; StaMPS' ``'vs'`` bootstrap is not reproduced.

NetCDF layout (CF-1.10 discrete sampling geometry, ``featureType = "timeSeries"``,
orthogonal multidimensional representation): instance dimension ``point`` with
``point_id`` (``cf_role = "timeseries_id"``, the 1-based row of ps2.mat), ``lon``/``lat``
(degrees, WGS 84), ``height``; ``time(time)`` in days since 1970-01-01 (calendar
standard); ``displacement(point, time)`` in mm; ``velocity``/``velocity_std`` in
``mm year-1`` (a year of 365.25 days; UDUNITS' year differs by 2e-5); per-image
``perpendicular_baseline``, ``used_in_velocity``, ``ifg_std``.  A CF point geometry
container ``ps`` (node_coordinates lon lat, grid_mapping ``crs``) is referenced by
the 1-D per-PS variables, so GDAL/QGIS open the file as a point layer with those
fields (GDAL >= 3.13.1 for the "CF-1.10" label, see :data:`CF_CONVENTIONS`).  CSV: one
header row (units in the names), one row per PS, NaN as an empty field.

Inputs: ``ps2``, ``phuw2`` (step 6), ``pm2`` and ``hgt2`` (step 5), ``scla2`` (step 7)
when ``d`` is requested, ``scn2`` (step 8) when ``s`` is requested; ``ifgstd2``
(step 5) and ``la2`` are used when present.  A missing input names the file and the
step that writes it.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError

CORRECTION_ORDER = "dso"           # the order of the letters in a velocity kind
DEFAULT_CORRECTIONS = ("d", "o")   # = ps_plot('v-do')
CORRECTION_TEXT = {
    "d": "spatially-correlated look-angle (DEM) error scla2.ph_scla removed",
    "s": "spatially-correlated nuisance scn2.ph_scn_slave removed",
    "o": "planar ramp per image removed (ps_deramp, degree 1)",
}
FORMATS = ("netcdf", "csv")
_SUFFIX_FORMAT = {".nc": "netcdf", ".nc4": "netcdf", ".netcdf": "netcdf", ".csv": "csv"}
DATENUM_1970 = 719529.0            # MATLAB datenum of 1970-01-01
#: the Conventions attribute.  GDAL before 3.13.1 parses "CF-1.10" as 1.1 and then ignores
#: CF-1.8 geometries (GDAL issue 15054), so older QGIS does not see the point layer; the
#: same file labelled "CF-1.8" (the content is also valid CF-1.8) opens as a point layer there.
CF_CONVENTIONS = "CF-1.10"
WGS84_WKT = ('GEOGCRS["WGS 84",DATUM["World Geodetic System 1984",ELLIPSOID["WGS 84",6378137,298.257223563,'
             'LENGTHUNIT["metre",1]]],PRIMEM["Greenwich",0,ANGLEUNIT["degree",0.0174532925199433]],'
             'CS[ellipsoidal,2],AXIS["geodetic latitude (Lat)",north,ORDER[1],'
             'ANGLEUNIT["degree",0.0174532925199433]],AXIS["geodetic longitude (Lon)",east,ORDER[2],'
             'ANGLEUNIT["degree",0.0174532925199433]],ID["EPSG",4326]]')
DAYS_PER_YEAR = 365.25

# which stage writes each input (for the "missing file" message)
_WRITER = {"ps2": "5", "pm2": "5", "hgt2": "5", "ifgstd2": "5", "la2": "5",
           "phuw2": "6", "scla2": "7", "scn2": "8"}


# ----------------------------------------------------------------------------------
# corrections and kinds

def parse_corrections(text: str | None) -> tuple[str, ...]:
    """``'d,o'`` / ``'do'`` / ``'none'`` / ``''`` -> letters in the order d, s, o.

    Raises :class:`InputError` for any other letter.
    """
    t = (text or "").strip().lower()
    if t in ("", "none", "-"):
        return ()
    letters = [c for c in t.replace(",", "").replace(" ", "")]
    bad = sorted(set(letters) - set(CORRECTION_ORDER))
    if bad:
        raise InputError(f"--corrections: unknown term(s) {','.join(bad)} in {text!r}; "
                         "allowed: d (DEM error), o (orbit ramp), s (spatially-correlated nuisance) or none")
    return tuple(c for c in CORRECTION_ORDER if c in letters)


def kind_for(corrections: tuple[str, ...]) -> str:
    """The ``ps_plot`` velocity kind of a correction set: ``()`` -> ``'v'``, ``('d','o')`` -> ``'v-do'``."""
    return "v" if not corrections else "v-" + "".join(c for c in CORRECTION_ORDER if c in corrections)


def corrections_for_kind(kind: str) -> tuple[str, ...]:
    """Inverse of :func:`kind_for`; :class:`InputError` for a kind that is not ``v[-dso]``."""
    k = (kind or "").strip().lower()
    if k == "v":
        return ()
    if not k.startswith("v-") or len(k) == 2 or set(k[2:]) - set(CORRECTION_ORDER):
        raise InputError(f"--kind {kind!r}: expected 'v' or 'v-' followed by letters from d, s, o "
                         "(e.g. v-do, v-dso)")
    return tuple(c for c in CORRECTION_ORDER if c in k[2:])


# ----------------------------------------------------------------------------------
# the assembled product

@dataclass
class TimeSeriesProduct:
    """Everything an export or a plot needs; arrays are per PS (n) or per image (N)."""

    root: Path
    corrections: tuple[str, ...]
    kind: str
    wavelength_m: float
    point_id: np.ndarray          # (n,) int32, 1-based row of ps2.mat
    lonlat: np.ndarray            # (n, 2) float64 degrees
    azimuth_index: np.ndarray     # (n,) int32, ps2.ij column 2
    range_index: np.ndarray       # (n,) int32, ps2.ij column 3
    height: np.ndarray            # (n,) float32 m, hgt2.hgt
    coherence: np.ndarray         # (n,) float32, pm2.coh_ps
    day: np.ndarray               # (N,) float64 MATLAB datenum
    master: int                   # 0-based master column
    bperp: np.ndarray             # (N,) float64 m, ps2.bperp (0 at the master)
    used: np.ndarray              # (N,) bool, images in the velocity fit
    sigma: np.ndarray             # (N,) float64 rad, ifg_std*pi/181 (1 without ifgstd2)
    ifg_std_deg: np.ndarray | None   # (N,) float32 degrees, ifgstd2.ifg_std
    displacement: np.ndarray      # (n, N) float32 mm
    velocity: np.ndarray          # (n,) float32 mm/yr, products.velocity(kind)
    velocity_std: np.ndarray      # (n,) float32 mm/yr
    n_reference: int
    reference_text: str
    scla_k: np.ndarray | None = None   # (n,) float32 rad/m, scla2.K_ps_uw
    look_angle: np.ndarray | None = None  # (n,) float32 rad, la2.la
    params: Any = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.point_id.size)

    @property
    def dates(self) -> list[str]:
        """Acquisition dates ``YYYY-MM-DD``."""
        return [_iso(d) for d in self.day]

    def intercept(self, p: int) -> float:
        """Weighted-LS intercept (mm, at the master date) of row ``p`` given its velocity slope."""
        t = (self.day - self.day[self.master]) / DAYS_PER_YEAR
        u = self.used
        w = 1.0 / self.sigma[u] ** 2
        r = self.displacement[p, u].astype(np.float64) - float(self.velocity[p]) * t[u]
        return float(np.sum(w * r) / np.sum(w))


def _iso(datenum: float) -> str:
    return _dt.date.fromordinal(int(round(float(datenum))) - 366).isoformat()


def _stage_missing(root: Path, name: str, why: str = "") -> InputError:
    st = _WRITER.get(name, "?")
    return InputError(f"{root / (name + '.mat')}: not found{why}: the dataset has not been processed "
                      f"through stage {st}, which writes it")


def _load(root: Path, name: str, required: bool, why: str = "") -> dict | None:
    from .io.matfile import MatFileError, load_mat

    p = root / f"{name}.mat"
    if not p.is_file():
        if required:
            raise _stage_missing(root, name, why)
        return None
    try:
        return load_mat(p)
    except MatFileError as exc:
        raise InputError(str(exc)) from None


def _var(d: dict, name: str, var: str, root: Path) -> np.ndarray:
    if var not in d:
        raise InputError(f"{root / (name + '.mat')}: variable {var} missing")
    return np.asarray(d[var])


def _check_rows(a: np.ndarray, n: int, name: str, var: str, root: Path, cols: int | None = None) -> None:
    if a.shape[0] != n or (cols is not None and (a.ndim < 2 or a.shape[1] != cols)):
        want = f"{n} x {cols}" if cols is not None else f"{n} rows"
        raise InputError(f"{root / (name + '.mat')}: {var} is {' x '.join(map(str, a.shape))}, expected {want} "
                         f"to match ps2.mat (stale file from another run? rerun stage {_WRITER.get(name, '?')})")


def _optional_rows(d: dict | None, name: str, var: str, needed: bool, n: int, N: int, root: Path) -> dict | None:
    """``d`` if its ``var`` is n x N; a stale file is an error when needed, else ignored."""
    if d is None:
        return None
    a = np.asarray(d.get(var, np.empty((0, 0))))
    if a.ndim == 2 and a.shape == (n, N):
        return d
    if needed:
        _check_rows(_var(d, name, var, root), n, name, var, root, N)
    return None


def load_dataset_params(root: Path, config: str | None = None):
    """The dataset's effective StaMPS parameters (parms.mat, *.1.in, config overrides)."""
    from .config import load_config
    from .parameters_io import load_params

    cfg = load_config(config)
    return load_params(root, root, cfg.stamps)


def gls_rate_std(phase: np.ndarray, t: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Formal standard error of the slope of ``phase ~ a + r t`` (lscov's ``stdx[1]``).

    ``phase`` (n, K) with K >= 3 used images, ``t`` (K,) and ``sigma`` (K,) the a-priori
    standard deviations (only their ratios matter).  Returns (n,) float64 in phase
    units per unit of ``t``; NaN rows stay NaN.
    """
    y = np.asarray(phase, dtype=np.float64).T                 # K x n
    K = y.shape[0]
    if K < 3:
        return np.full(y.shape[1], np.nan)
    A = np.column_stack([np.ones(K), np.asarray(t, dtype=np.float64)])
    w = 1.0 / np.asarray(sigma, dtype=np.float64) ** 2
    Ninv = np.linalg.inv(A.T @ (A * w[:, None]))
    coef = Ninv @ (A.T @ (y * w[:, None]))                   # 2 x n
    r = y - A @ coef
    mse = np.sum(w[:, None] * r * r, axis=0) / (K - 2)
    return np.sqrt(mse * Ninv[1, 1])


def assemble(root: str | os.PathLike, corrections: tuple[str, ...] = DEFAULT_CORRECTIONS,
             params=None, *, config: str | None = None) -> TimeSeriesProduct:
    """Load a processed dataset and build the export product (see the module docstring)."""
    from .products import velocity, velocity_phase
    from .stages.correct import master_index
    from .stages.reference import reference_phase, setref, used_ifgs

    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: dataset folder not found")
    corrections = tuple(c for c in CORRECTION_ORDER if c in corrections)
    kind = kind_for(corrections)
    ps2 = _load(root, "ps2", True)
    phuw2 = _load(root, "phuw2", True)
    pm2 = _load(root, "pm2", True)
    hgt2 = _load(root, "hgt2", True)
    scla2 = _load(root, "scla2", "d" in corrections, " (needed for the 'd' correction)")
    scn2 = _load(root, "scn2", "s" in corrections, " (needed for the 's' correction)")
    ifgstd2 = _load(root, "ifgstd2", False)
    la2 = _load(root, "la2", False)
    if params is None:
        params = load_dataset_params(root, config)

    lonlat = _var(ps2, "ps2", "lonlat", root).astype(np.float64)
    n = lonlat.shape[0]
    ij = _var(ps2, "ps2", "ij", root)
    day = _var(ps2, "ps2", "day", root).astype(np.float64).ravel()
    N = day.size
    ph_uw = _var(phuw2, "phuw2", "ph_uw", root)
    _check_rows(ph_uw, n, "phuw2", "ph_uw", root, N)
    coh = _var(pm2, "pm2", "coh_ps", root)
    _check_rows(coh, n, "pm2", "coh_ps", root)
    hgt = _var(hgt2, "hgt2", "hgt", root)
    _check_rows(hgt, n, "hgt2", "hgt", root)
    scla2 = _optional_rows(scla2, "scla2", "ph_scla", "d" in corrections, n, N, root)
    scn2 = _optional_rows(scn2, "scn2", "ph_scn_slave", "s" in corrections, n, N, root)
    if ifgstd2 is not None:
        _check_rows(_var(ifgstd2, "ifgstd2", "ifg_std", root), N, "ifgstd2", "ifg_std", root)
    m = master_index(ps2)
    lam = float(params["lambda"])
    if not math.isfinite(lam):
        raise InputError(f"{root}: radar wavelength unknown (no lambda in parms.mat and no lambda.1.in)")

    try:
        v = velocity(ps2, phuw2, scla2, scn2, ifgstd2, params, kind=kind)
        ph = velocity_phase(ps2, phuw2, scla2, scn2, kind)
    except ValueError as exc:
        raise InputError(f"{root}: {exc}") from None
    if kind == "v-d":   # C_ps_uw (a per-PS constant) only shifts the intercept: keep it in the series
        ph = (ph + np.asarray(scla2["C_ps_uw"], dtype=np.float32).reshape(-1, 1)).astype(np.float32)
    ref = setref(ps2, params)
    phr = reference_phase(ph, ref)
    scale = lam / (4 * np.pi) * 1000.0                       # rad -> mm
    disp = (-phr.astype(np.float64) * scale + 0.0).astype(np.float32)   # + 0.0: no "-0" at the master

    used = np.zeros(N, dtype=bool)
    used[used_ifgs(N, params)] = True
    used[m] = False
    if ifgstd2 is not None:
        std_deg = np.asarray(ifgstd2["ifg_std"], dtype=np.float32).ravel()
        sigma = ((std_deg * np.float32(np.pi)) / np.float32(181)).astype(np.float64)
    else:
        std_deg, sigma = None, np.ones(N)
    U = np.flatnonzero(used)
    rate_std = gls_rate_std(phr[:, U], day[U] - day[m], sigma[U])     # rad/day
    v_std = (rate_std * DAYS_PER_YEAR * scale).astype(np.float32)

    scla_k = None
    if scla2 is not None and "K_ps_uw" in scla2 and np.size(scla2["K_ps_uw"]) == n:
        scla_k = np.asarray(scla2["K_ps_uw"], dtype=np.float32).ravel()
    look = None
    if la2 is not None and np.size(la2.get("la", [])) == n:
        look = np.asarray(la2["la"], dtype=np.float32).ravel()
    bperp = np.asarray(ps2.get("bperp", np.full(N, np.nan)), dtype=np.float64).ravel()
    if bperp.size != N:
        bperp = np.full(N, np.nan)
    return TimeSeriesProduct(
        root=root, corrections=corrections, kind=kind, wavelength_m=lam,
        point_id=np.arange(1, n + 1, dtype=np.int32), lonlat=lonlat,
        azimuth_index=np.asarray(ij[:, 1], dtype=np.int32), range_index=np.asarray(ij[:, 2], dtype=np.int32),
        height=np.asarray(hgt, dtype=np.float32).ravel(), coherence=np.asarray(coh, dtype=np.float32).ravel(),
        day=day, master=m, bperp=bperp, used=used, sigma=sigma, ifg_std_deg=std_deg,
        displacement=disp, velocity=np.asarray(v, dtype=np.float32), velocity_std=v_std,
        n_reference=int(ref.size), reference_text=_reference_text(params, ref.size, n),
        scla_k=scla_k, look_angle=look, params=params)


def _reference_text(params, n_ref: int, n: int) -> str:
    if params.get("ref_x") is not None and params.get("ref_y") is not None:
        where = f"ref_x={_lst(params['ref_x'])} ref_y={_lst(params['ref_y'])}"
    else:
        where = f"ref_lon={_lst(params.get('ref_lon'))} ref_lat={_lst(params.get('ref_lat'))}"
        r = float(params.get("ref_radius", np.inf))
        if r < np.inf:
            where += f" ref_centre_lonlat={_lst(params.get('ref_centre_lonlat'))} ref_radius={r:g} m"
    return f"{n_ref} of {n} PS (ps_setref: {where})"


def _lst(v) -> str:
    return "[" + " ".join(f"{float(x):g}" for x in np.asarray(v, dtype=np.float64).ravel()) + "]"


# ----------------------------------------------------------------------------------
# NetCDF layout (CF-1.10, discrete sampling geometry featureType timeSeries,
# orthogonal multidimensional representation: instance dimension "point")

def _corrections_text(c: tuple[str, ...]) -> str:
    return "; ".join(f"{x}: {CORRECTION_TEXT[x]}" for x in c) if c else "none"


def netcdf_layout(ts: TimeSeriesProduct, *, command: str = "pystamps export") -> tuple[dict, list, dict]:
    """``(dims, variables, global attributes)`` of the NetCDF product for :func:`write_netcdf`."""
    from . import __version__
    from .io.netcdf import NcVar

    nan32 = np.float32(np.nan)
    corr = ",".join(ts.corrections) if ts.corrections else "none"
    coords = "lat lon height point_id"
    sign = "positive towards the satellite (LOS shortening, range decrease)"
    disp_comment = (f"d = -(phi - phi_ref) * lambda / (4 pi) * 1000 with phi = phuw2.ph_uw minus the corrections "
                    f"({corr}) and phi_ref the per-image mean over the reference PS; lambda = {ts.wavelength_m:g} m; "
                    "0 at the master date")
    v = [
        NcVar("point_id", ("point",), ts.point_id, {
            "long_name": "PS identifier (1-based row of ps2.mat)", "cf_role": "timeseries_id"}, "i4"),
        NcVar("time", ("time",), ts.day - DATENUM_1970, {
            "standard_name": "time", "long_name": "acquisition date", "units": "days since 1970-01-01 00:00:00",
            "calendar": "standard", "axis": "T"}, "f8"),
        NcVar("lon", ("point",), ts.lonlat[:, 0], {
            "standard_name": "longitude", "long_name": "longitude", "units": "degrees_east", "axis": "X"}, "f8"),
        NcVar("lat", ("point",), ts.lonlat[:, 1], {
            "standard_name": "latitude", "long_name": "latitude", "units": "degrees_north", "axis": "Y"}, "f8"),
        # CF-1.8+ point geometry over the instance dimension: GDAL/QGIS open the file as a point layer
        # whose fields are the per-PS variables carrying geometry = "ps"
        NcVar("ps", (), np.int32(0), {
            "geometry_type": "point", "node_coordinates": "lon lat", "grid_mapping": "crs",
            "long_name": "PS locations (one node per PS)"}, "i4"),
        NcVar("crs", (), np.int32(0), {
            "grid_mapping_name": "latitude_longitude", "semi_major_axis": 6378137.0,
            "inverse_flattening": 298.257223563, "longitude_of_prime_meridian": 0.0,
            "crs_wkt": WGS84_WKT, "long_name": "WGS 84"}, "i4"),
        NcVar("height", ("point",), ts.height, {
            "standard_name": "surface_altitude", "long_name": "DEM height at the PS (hgt2.mat)", "units": "m",
            "comment": "height of the DEM used to form the interferograms, in that DEM's vertical datum"}, "f4", nan32),
        NcVar("azimuth_index", ("point",), ts.azimuth_index, {
            "long_name": "azimuth line of the PS in the master image (ps2.ij column 2)", "units": "1"}, "i4"),
        NcVar("range_index", ("point",), ts.range_index, {
            "long_name": "range sample of the PS in the master image (ps2.ij column 3)", "units": "1"}, "i4"),
        NcVar("displacement", ("point", "time"), ts.displacement, {
            "long_name": f"LOS displacement since the master date, {sign}", "units": "mm",
            "coordinates": coords, "comment": disp_comment}, "f4", nan32),
        NcVar("velocity", ("point",), ts.velocity, {
            "long_name": f"mean LOS velocity, {sign}", "units": "mm year-1", "coordinates": coords,
            "ancillary_variables": "velocity_std",
            "comment": (f"StaMPS ps_plot('{ts.kind}'): GLS slope of the displacement over the images flagged "
                        "in used_in_velocity, weights 1/(ifg_std*pi/181)^2, minus its mean over the reference PS; "
                        "1 year = 365.25 days")}, "f4", nan32),
        NcVar("velocity_std", ("point",), ts.velocity_std, {
            "long_name": "standard error of the mean LOS velocity", "units": "mm year-1", "coordinates": coords,
            "comment": ("formal standard error of the GLS slope scaled by the a-posteriori variance factor "
                        "(MATLAB lscov stdx); ignores temporally correlated residuals")}, "f4", nan32),
        NcVar("coherence", ("point",), ts.coherence, {
            "long_name": "PS temporal coherence (pm2.coh_ps)", "units": "1", "coordinates": coords,
            "valid_min": np.float32(0), "valid_max": np.float32(1)}, "f4", nan32),
    ]
    if ts.scla_k is not None:
        v.append(NcVar("dem_error_phase_gradient", ("point",), ts.scla_k, {
            "long_name": "spatially-correlated look-angle (DEM) error: phase per metre of perpendicular "
                         "baseline (scla2.K_ps_uw)", "units": "rad m-1", "coordinates": coords,
            "comment": "DEM error (m) = -K * lambda * slant_range * sin(incidence) / (4 pi)"}, "f4", nan32))
    if ts.look_angle is not None:
        v.append(NcVar("look_angle", ("point",), ts.look_angle, {
            "long_name": "radar look angle at the PS (la2.la)", "units": "rad", "coordinates": coords}, "f4", nan32))
    v.append(NcVar("perpendicular_baseline", ("time",), ts.bperp, {
        "long_name": "perpendicular baseline to the master, scene mean (ps2.bperp)", "units": "m"}, "f8"))
    v.append(NcVar("used_in_velocity", ("time",), ts.used.astype(np.int8), {
        "long_name": "image used in the velocity fit (not dropped, not the master)",
        "flag_values": np.array([0, 1], dtype=np.int8), "flag_meanings": "not_used used"}, "i1"))
    if ts.ifg_std_deg is not None:
        v.append(NcVar("ifg_std", ("time",), ts.ifg_std_deg, {
            "long_name": "interferogram phase noise standard deviation (ifgstd2.ifg_std)", "units": "degree"},
            "f4", nan32))
    for var in v:      # per-PS fields of the point layer (1-D only: GDAL reads one value per feature)
        if var.dims == ("point",) and var.name not in ("lon", "lat"):
            var.attrs = {**var.attrs, "geometry": "ps", "grid_mapping": "crs"}
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    ll = ts.lonlat
    dates = ts.dates
    attrs = {
        "Conventions": CF_CONVENTIONS,
        "featureType": "timeSeries",
        "title": f"PS-InSAR LOS displacement time series and mean velocity ({ts.root.name})",
        "source": f"pystamps-batch {__version__}: StaMPS single-master persistent scatterer processing, stages 1-8",
        "history": f"{now.isoformat().replace('+00:00', 'Z')} {command} (pystamps-batch {__version__})",
        "references": "Hooper et al. (2004, 2007): StaMPS; velocity as StaMPS ps_plot",
        "comment": (f"displacement and velocity are line-of-sight, {sign}; relative to the reference area "
                    f"({ts.reference_text}) and to the master date"),
        "master_date": dates[ts.master],
        "time_coverage_start": dates[0],
        "time_coverage_end": dates[-1],
        "radar_wavelength_m": float(ts.wavelength_m),
        "corrections": corr,
        "corrections_description": _corrections_text(ts.corrections),
        "velocity_kind": ts.kind,
        "reference_area": ts.reference_text,
        "geospatial_lon_min": float(np.nanmin(ll[:, 0])) if ts.n else np.nan,
        "geospatial_lon_max": float(np.nanmax(ll[:, 0])) if ts.n else np.nan,
        "geospatial_lat_min": float(np.nanmin(ll[:, 1])) if ts.n else np.nan,
        "geospatial_lat_max": float(np.nanmax(ll[:, 1])) if ts.n else np.nan,
        "date_created": now.isoformat().replace("+00:00", "Z"),
    }
    return {"point": ts.n, "time": ts.day.size}, v, attrs


def write_netcdf_product(ts: TimeSeriesProduct, out: str | os.PathLike, *, command: str = "pystamps export") -> Path:
    """Write ``ts`` as the CF-1.10 NetCDF4 product (atomic)."""
    from .io.netcdf import write_netcdf

    dims, variables, attrs = netcdf_layout(ts, command=command)
    return write_netcdf(out, dims, variables, attrs)


def csv_header(ts: TimeSeriesProduct) -> list[str]:
    """Column names (units in the names): id, lon, lat, height, velocity, std, coherence, one per date."""
    return (["id", "lon_deg", "lat_deg", "height_m", "velocity_mm_yr", "velocity_std_mm_yr", "coherence"]
            + [f"d_{d.replace('-', '')}_mm" for d in ts.dates])


def write_csv_product(ts: TimeSeriesProduct, out: str | os.PathLike) -> Path:
    """One row per PS: :func:`csv_header` columns; float32 values round-trip exactly (``%.9g``)."""
    from .io.csvfile import write_csv

    cols = [ts.point_id, ts.lonlat[:, 0], ts.lonlat[:, 1], ts.height, ts.velocity, ts.velocity_std,
            ts.coherence, ts.displacement]
    fmts = ["%d", "%.9f", "%.9f", "%.9g", "%.9g", "%.9g", "%.9g", "%.9g"]
    return write_csv(out, csv_header(ts), cols, fmts)


# ----------------------------------------------------------------------------------
# command line

def check_output_path(out: str | os.PathLike, option: str = "--out") -> Path:
    """Refuse an output path that cannot be written (before any work is done)."""
    p = Path(out)
    if p.is_dir():
        raise InputError(f"{p}: {option} is a directory, expected a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{p}: {option} folder {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"{p}: {option} is not writable")
    return p


def resolve_format(fmt: str | None, out: str | os.PathLike) -> str:
    """``--format`` value, or the one the ``--out`` suffix implies; InputError otherwise."""
    if fmt is not None:
        f = fmt.strip().lower()
        f = {"nc": "netcdf", "netcdf4": "netcdf"}.get(f, f)
        if f not in FORMATS:
            raise InputError(f"--format {fmt!r}: expected netcdf or csv")
        return f
    f = _SUFFIX_FORMAT.get(Path(out).suffix.lower())
    if f is None:
        raise InputError(f"{out}: cannot tell the format from the suffix; pass --format netcdf or --format csv")
    return f


HELP = "write the PS displacement time series and mean velocity as CF-1.10 NetCDF or CSV"
DESCRIPTION = (
    "Write the LOS displacement time series (mm, relative to the master date), the mean LOS velocity "
    "and its standard error (mm/yr), coherence, DEM height and lon/lat of every PS of a processed dataset. "
    "Positive values are motion towards the satellite. The velocity equals StaMPS' ps_plot of the kind "
    "the corrections select (default 'v-do'); the series' weighted least-squares slope is that velocity. "
    "netcdf: CF-1.10 NetCDF4, featureType timeSeries, dimensions point x time. "
    "csv: one row per PS: id, lon_deg, lat_deg, height_m, velocity_mm_yr, velocity_std_mm_yr, coherence, "
    "then d_YYYYMMDD_mm per date.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``pystamps export``."""
    parser.add_argument("--dataset", required=True, metavar="DIR",
                        help="dataset root processed through stage 8 (stage 7 is enough unless the "
                             "corrections include s)")
    parser.add_argument("--format", metavar="FMT",
                        help="netcdf (CF-1.10 NetCDF4 time series) or csv (one row per PS); "
                             "default: from the --out suffix (.nc, .csv)")
    parser.add_argument("--out", required=True, metavar="FILE", help="output file (written atomically)")
    parser.add_argument("--corrections", default="d,o", metavar="LIST",
                        help="terms removed from the unwrapped phase before the time series and velocity: "
                             "d = DEM (look-angle) error from stage 7, o = planar orbit ramp per image, "
                             "s = spatially-correlated nuisance from stage 8, or 'none' "
                             "(default d,o: StaMPS' 'v-do' velocity)")


def run(args: argparse.Namespace) -> int:
    """``pystamps export``: returns 0; raises InputError (exit 2) for bad input or options."""
    fmt = resolve_format(getattr(args, "format", None), args.out)
    corrections = parse_corrections(args.corrections)
    out = check_output_path(args.out)
    ts = assemble(Path(args.dataset), corrections, config=getattr(args, "config", None))
    cmd = f"pystamps export --dataset {args.dataset} --format {fmt} --corrections {','.join(corrections) or 'none'}"
    try:
        if fmt == "netcdf":
            write_netcdf_product(ts, out, command=cmd)
        else:
            write_csv_product(ts, out)
    except PermissionError as exc:
        raise InputError(f"{out}: cannot write ({exc.strerror})") from None
    print(f"wrote {out}: {ts.n} PS x {ts.day.size} dates, {fmt}, corrections "
          f"{','.join(corrections) or 'none'} (velocity {ts.kind}), master {ts.dates[ts.master]}")
    return 0


__all__ = ["add_arguments", "run", "assemble", "TimeSeriesProduct", "parse_corrections", "kind_for",
           "corrections_for_kind", "write_netcdf_product", "write_csv_product", "netcdf_layout",
           "gls_rate_std", "DEFAULT_CORRECTIONS"]
