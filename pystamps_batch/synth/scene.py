"""The scene: acquisitions, candidate pixels and the interferometric phase model.

Phase model and signs (dataset-layout.md, checked against StaMPS):

    ifg_s = (4 pi / lambda)(r_s - r_m) + (a_m - a_s) + (o_m - o_s) + K Bperp_s + (n_m - n_s)

with the LOS displacement d (mm, positive towards the satellite) shortening the
range: r_s - r_m = -(d_s - d_m) / 1000 and d_m = 0.  K = -4 pi dz / (lambda R sin inc)
(rad per m of Bperp).  Velocities are positive towards the satellite.
True PS: ifg noise std = clip(2 D_A, ps_noise) built as master minus slave image
noise (each std / sqrt 2).  Decorrelated candidates: uniform random phase per ifg.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np

from .amplitude import calibration_constants, candidate_brightness, dispersion_series, CAND_LOG_STD
from .geometry import Geometry
from .signals import (CoarseGrid, Deformation, atmosphere_screens, make_deformation, orbit_gradients,
                      orbit_phase, random_field)
from .streams import rng

SAMPLING_TILE = 128
DAYS_PER_YEAR = 365.25


# ------------------------------------------------------------------------------------------
# acquisitions
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Acquisitions:
    """Dates (YYYYMMDD, ascending), master, times and centre baselines of the N images."""

    dates: np.ndarray         # (N,) int64 YYYYMMDD
    master_index: int
    t_years: np.ndarray       # (N,) (day - master day) / 365.25
    bperp: np.ndarray         # (N,) m at the scene centre, 0 at the master
    bpar: np.ndarray          # (N,) m
    calconst: np.ndarray      # (N,) calamp constants (6 significant digits)

    @property
    def n_images(self) -> int:
        return int(self.dates.size)

    @property
    def slave_index(self) -> np.ndarray:
        return np.array([k for k in range(self.n_images) if k != self.master_index], dtype=np.int64)

    @property
    def date_strings(self) -> list[str]:
        return [str(int(d)) for d in self.dates]

    @property
    def master_date(self) -> str:
        return str(int(self.dates[self.master_index]))


def make_acquisitions(cfg) -> Acquisitions:
    """One image per repeat slot chosen at random (first and last slot always), master = middle."""
    n = cfg.n_images
    n_slots = max(int(round(cfg.span_years * DAYS_PER_YEAR / cfg.repeat_days)) + 1, n)
    g = rng(cfg.seed, "dates")
    inner = g.choice(np.arange(1, n_slots - 1), size=n - 2, replace=False)
    slots = np.sort(np.concatenate([[0, n_slots - 1], inner]))
    start = _dt.datetime.strptime(str(cfg.start_date), "%Y%m%d").date()
    days = [start + _dt.timedelta(days=int(s) * cfg.repeat_days) for s in slots]
    dates = np.array([int(d.strftime("%Y%m%d")) for d in days], dtype=np.int64)
    m = n // 2
    t = np.array([(d - days[m]).days for d in days], dtype=np.float64) / DAYS_PER_YEAR
    gb = rng(cfg.seed, "baselines")
    bperp = cfg.bperp_std_m * gb.standard_normal(n)
    bpar = cfg.bpar_std_m * gb.standard_normal(n)
    bperp[m] = bpar[m] = 0.0
    return Acquisitions(dates, m, t, bperp, bpar, calibration_constants(cfg.seed, n))


# ------------------------------------------------------------------------------------------
# candidate positions
# ------------------------------------------------------------------------------------------
def sample_positions(cfg) -> tuple[np.ndarray, np.ndarray]:
    """``n_cand`` distinct pixels drawn with a smooth random density: (az, rg) int64, az-major.

    Only pixels inside the union of the extended patch windows are eligible.  Counts per
    128 x 128 tile are multinomial in the tile's density mass (capped at its pixel
    count); inside a tile the pixels are a weighted sample without replacement
    (exponential keys / weight, smallest first).
    """
    rg_end, az_end = cfg.region_shape()
    grid = CoarseGrid.for_image(cfg.width, cfg.length, cfg.pixel_m, cfg.density_corr_km * 250.0)
    logd = cfg.density_log_std * random_field(grid.shape, grid.spacing_m, cfg.density_corr_km * 1000.0,
                                              rng(cfg.seed, "density"))
    ty, tx = -(-az_end // SAMPLING_TILE), -(-rg_end // SAMPLING_TILE)

    def tile(iy, ix):
        a0, a1 = iy * SAMPLING_TILE, min((iy + 1) * SAMPLING_TILE, az_end)
        r0, r1 = ix * SAMPLING_TILE, min((ix + 1) * SAMPLING_TILE, rg_end)
        az, rg = np.meshgrid(np.arange(a0, a1), np.arange(r0, r1), indexing="ij")
        az, rg = az.ravel(), rg.ravel()
        return az, rg, np.exp(grid.sample(logd, az, rg))

    weights = np.empty(ty * tx)
    caps = np.empty(ty * tx, dtype=np.int64)
    for iy in range(ty):
        for ix in range(tx):
            _, _, w = tile(iy, ix)
            weights[iy * tx + ix], caps[iy * tx + ix] = w.sum(), w.size
    counts = _allocate(cfg.n_cand, weights, caps, rng(cfg.seed, "sampling"))
    az_out, rg_out = [], []
    for t in np.flatnonzero(counts):
        iy, ix = divmod(int(t), tx)
        az, rg, w = tile(iy, ix)
        keys = rng(cfg.seed, "sampling", t + 1).standard_exponential(w.size) / w
        k = int(counts[t])
        pick = np.argpartition(keys, k - 1)[:k] if k < w.size else np.arange(w.size)
        az_out.append(az[pick])
        rg_out.append(rg[pick])
    az = np.concatenate(az_out).astype(np.int64)
    rg = np.concatenate(rg_out).astype(np.int64)
    order = np.argsort(az * cfg.width + rg, kind="stable")
    return az[order], rg[order]


def _allocate(n: int, weights: np.ndarray, caps: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Multinomial counts of ``n`` over tiles with probabilities ~ weights, never above ``caps``."""
    counts = gen.multinomial(n, weights / weights.sum())
    while True:
        excess = int(np.maximum(counts - caps, 0).sum())
        if excess == 0:
            return counts
        counts = np.minimum(counts, caps)
        w = np.where(counts < caps, weights, 0.0)
        counts = counts + gen.multinomial(excess, w / w.sum())


# ------------------------------------------------------------------------------------------
# the scene model (everything except the per-candidate x image arrays)
# ------------------------------------------------------------------------------------------
@dataclass
class SceneModel:
    """Coarse fields and per-image parameters shared by all candidate chunks."""

    cfg: object
    geom: Geometry
    acq: Acquisitions
    deformation: Deformation
    dem_grid: CoarseGrid
    dem_field: np.ndarray         # unit-std field on dem_grid
    atm_grid: CoarseGrid
    atm: np.ndarray               # (N, rows, cols) float32 rad
    orbit_grad: np.ndarray        # (N, 2) rad per 10 km (east, north)

    def dem_height(self, az, rg) -> np.ndarray:
        """DEM height (m) at pixels, float64."""
        return self.cfg.dem_mean_m + self.cfg.dem_std_m * self.dem_grid.sample(self.dem_field, az, rg)


def make_scene_model(cfg, geom: Geometry, acq: Acquisitions) -> SceneModel:
    dem_grid = CoarseGrid.for_image(cfg.width, cfg.length, cfg.pixel_m, cfg.dem_corr_km * 250.0)
    dem_field = random_field(dem_grid.shape, dem_grid.spacing_m, cfg.dem_corr_km * 1000.0, rng(cfg.seed, "dem"))
    atm_grid = CoarseGrid.for_image(cfg.width, cfg.length, cfg.pixel_m, cfg.atm_corr_km * 200.0)
    atm = atmosphere_screens(cfg.seed, atm_grid, acq.n_images, cfg.atm_std_rad, cfg.atm_corr_km * 1000.0)
    return SceneModel(cfg, geom, acq, make_deformation(cfg, geom), dem_grid, dem_field, atm_grid, atm,
                      orbit_gradients(cfg.seed, acq.n_images, cfg.orbit_ramp_rad_per_10km))


# ------------------------------------------------------------------------------------------
# candidates (per-candidate scalars)
# ------------------------------------------------------------------------------------------
@dataclass
class Candidates:
    """Per-candidate truth (n,), global az-major order; names as in truth.npz."""

    az: np.ndarray
    rg: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    east_m: np.ndarray
    north_m: np.ndarray
    hgt: np.ndarray
    is_ps: np.ndarray
    D_A: np.ndarray
    noise_std_rad: np.ndarray
    v_lin_mm_yr: np.ndarray
    v_mean_mm_yr: np.ndarray
    seasonal_amp_mm: np.ndarray
    dem_err_m: np.ndarray
    K_rad_per_m: np.ndarray
    look_angle_rad: np.ndarray
    incidence_rad: np.ndarray
    slant_range_m: np.ndarray
    mean_amp: np.ndarray          # mean calibrated amplitude (not in truth.npz)

    @property
    def n(self) -> int:
        return int(self.az.size)


def make_candidates(model: SceneModel, az: np.ndarray, rg: np.ndarray) -> Candidates:
    """Draw the candidates' type, D_A, brightness and DEM error; evaluate geometry and rates."""
    cfg, geom, acq = model.cfg, model.geom, model.acq
    n = az.size
    g = rng(cfg.seed, "attributes")
    is_ps = np.zeros(n, dtype=bool)
    is_ps[g.permutation(n)[: int(round(cfg.ps_fraction * n))]] = True
    top = cfg.da_thresh - 1e-5          # strictly below the threshold, also as printed (%g)
    da_ps = g.uniform(cfg.ps_da[0], min(cfg.ps_da[1], top), size=n)
    da_dec = g.uniform(cfg.decor_da[0], min(cfg.decor_da[1], top), size=n)
    D_A = np.where(is_ps, da_ps, da_dec)
    noise_std = np.where(is_ps, np.clip(2.0 * D_A, *cfg.ps_noise), np.nan)
    mean_amp = candidate_brightness(g, n, cfg.width * cfg.length, cfg.n_cand)
    dem_err = cfg.dem_err_std_m * g.standard_normal(n)

    east, north = geom.east_north(az, rg)
    lon, lat = geom.lonlat(east, north)
    hgt = model.dem_height(az, rg)
    r = geom.slant_range(rg)
    look = geom.look_angle(r, hgt)
    inc = geom.incidence(look, hgt)
    K = -4.0 * np.pi * dem_err / (cfg.wavelength_m * r * np.sin(inc))
    v_lin, seas = model.deformation.rates(east, north)
    v_mean = model.deformation.mean_velocity(v_lin, seas, acq.t_years[acq.slave_index])
    return Candidates(az, rg, lon, lat, east, north, hgt, is_ps, D_A, noise_std, v_lin, v_mean, seas,
                      dem_err, K, look, inc, r, mean_amp)


def expected_mean_amp(cfg) -> float:
    """Expected mean calibrated amplitude of a candidate (for the clutter normalisation)."""
    return min(3.0, 0.5 * cfg.width * cfg.length / cfg.n_cand) * float(np.exp(CAND_LOG_STD ** 2 / 2))


# ------------------------------------------------------------------------------------------
# per-candidate x image arrays, chunk by chunk
# ------------------------------------------------------------------------------------------
def chunk_size(n_images: int) -> int:
    """Candidates per chunk (~1e6 candidate-images); fixed per N so that streams are reproducible."""
    return max(1024, 1_000_000 // n_images)


@dataclass
class Chunk:
    """Rows [i0, i1) of the per-candidate x image truth and the data of pscands.1.ph."""

    i0: int
    i1: int
    disp_los_mm: np.ndarray      # (n, N) float64
    bperp_pix: np.ndarray        # (n, N)
    atm_rad: np.ndarray          # (n, N)
    orbit_rad: np.ndarray        # (n, N)
    noise_img_rad: np.ndarray    # (n, N)
    phase: np.ndarray            # (n, M) unwrapped ifg phase (random for decorrelated)
    ph_wrapped: np.ndarray       # (n, M) float32 in [-pi, pi]
    amp: np.ndarray              # (n, N) calibrated amplitudes (exact D_A)
    value: np.ndarray            # (n, M) complex64 master * conj(slave) in raw units
    master_phase: np.ndarray     # (n,) phase of the master SLC (raw rasters only)


def simulate_chunk(model: SceneModel, c: Candidates, chunk_id: int, i0: int, i1: int) -> Chunk:
    """Evaluate the phase model and amplitudes of candidates [i0, i1)."""
    cfg, geom, acq = model.cfg, model.geom, model.acq
    sl = slice(i0, i1)
    n, N, m, s = i1 - i0, acq.n_images, acq.master_index, acq.slave_index
    disp = model.deformation.displacement(c.v_lin_mm_yr[sl], c.seasonal_amp_mm[sl], acq.t_years)
    bperp = geom.bperp(c.look_angle_rad[sl], acq.bperp, acq.bpar)
    atm = np.empty((n, N))
    for k in range(N):
        atm[:, k] = model.atm_grid.sample(model.atm[k], c.az[sl], c.rg[sl])
    orbit = orbit_phase(model.orbit_grad, c.east_m[sl], c.north_m[sl])
    sd = np.where(c.is_ps[sl], c.noise_std_rad[sl] / np.sqrt(2.0), 0.0)
    noise = rng(cfg.seed, "noise", chunk_id).standard_normal((n, N)) * sd[:, None]

    phase = (-4.0 * np.pi / cfg.wavelength_m * disp[:, s] / 1000.0
             + (atm[:, [m]] - atm[:, s]) + (orbit[:, [m]] - orbit[:, s])
             + c.K_rad_per_m[sl, None] * bperp[:, s] + (noise[:, [m]] - noise[:, s]))
    gp = rng(cfg.seed, "phase", chunk_id)
    random_ph = gp.uniform(-np.pi, np.pi, size=(n, s.size))
    master_phase = gp.uniform(-np.pi, np.pi, size=n)
    phase = np.where(c.is_ps[sl, None], phase, random_ph)
    wrapped = phase - 2.0 * np.pi * np.round(phase / (2.0 * np.pi))

    amp = dispersion_series(rng(cfg.seed, "amplitude", chunk_id), c.D_A[sl], c.mean_amp[sl], N)
    raw = amp * acq.calconst[None, :]
    value = ((raw[:, [m]] * raw[:, s]) * np.exp(1j * wrapped)).astype(np.complex64)
    return Chunk(i0, i1, disp, bperp, atm, orbit, noise, phase, wrapped.astype(np.float32), amp, value,
                 master_phase)
