"""Parameters of the synthetic scene (defaults = the scene model of dataset-layout.md).

:class:`SynthConfig` holds every knob of the generator and checks it; an invalid
value raises ``ValueError`` with a one-line message naming the parameter.
"""
from __future__ import annotations

import datetime as _dt
import numbers
from dataclasses import asdict, dataclass, fields

#: Largest raw stack (pixels x images) that ``write_raw`` accepts (about 1.6 GB of SLCs).
RAW_LIMIT = 200_000_000


@dataclass(frozen=True)
class SynthConfig:
    """All parameters of :func:`pystamps_batch.synth.generate` (units in the names)."""

    # image and patches (spec A.5)
    width: int = 500
    length: int = 500
    rg_patches: int = 1
    az_patches: int = 1
    rg_overlap: int = 50
    az_overlap: int = 50
    # candidates and stack
    n_cand: int = 8000
    n_ifg: int = 20
    ps_fraction: float = 0.5
    da_thresh: float = 0.4
    seed: int = 1
    write_raw: bool = False
    # geometry
    pixel_m: float = 15.0
    incidence_deg: float = 39.0
    altitude_m: float = 693_000.0
    earth_radius_m: float = 6_371_000.0
    heading_deg: float = -12.5
    wavelength_m: float = 0.05546576
    lat0: float = 40.0
    lon0: float = 15.0
    # acquisitions
    start_date: str = "20180105"
    repeat_days: int = 12
    span_years: float = 2.5
    bperp_std_m: float = 100.0
    bpar_std_m: float = 50.0
    # candidates: D_A ranges, PS noise (ifg std = clip(2 D_A, lo, hi))
    ps_da: tuple = (0.15, 0.35)
    decor_da: tuple = (0.35, 0.45)
    ps_noise: tuple = (0.3, 0.7)
    density_corr_km: float = 1.5
    density_log_std: float = 1.0
    # signals
    bowl_rate_mm_yr: float = -30.0
    bowl_sigma_frac: float = 0.15
    bg_gradient_mm_yr_km: float = 1.0
    seasonal_mm: float = 3.0
    dem_mean_m: float = 150.0
    dem_std_m: float = 40.0
    dem_corr_km: float = 2.0
    dem_err_std_m: float = 10.0
    atm_std_rad: float = 1.0
    atm_corr_km: float = 3.0
    orbit_ramp_rad_per_10km: float = 0.3

    @property
    def n_images(self) -> int:
        """Acquisitions N = n_ifg + 1 (master included)."""
        return self.n_ifg + 1

    def as_dict(self) -> dict:
        return asdict(self)

    def validate(self) -> "SynthConfig":
        """Raise ``ValueError`` (one line) for the first invalid parameter; return self."""
        _ints_at_least(self, width=16, length=16, rg_patches=1, az_patches=1,
                       rg_overlap=0, az_overlap=0, n_cand=1, n_ifg=2, seed=0, repeat_days=1)
        wp, lp = self.width // self.rg_patches, self.length // self.az_patches
        if wp < 16 or lp < 16:
            raise ValueError(f"{self.rg_patches} x {self.az_patches} patches do not fit a "
                             f"{self.width} x {self.length} image (each patch core needs >= 16 x 16 pixels, "
                             f"got {wp} x {lp})")
        region = self.region_pixels()
        if self.n_cand > region:
            raise ValueError(f"n_cand = {self.n_cand} is larger than the {region} pixels that the patches cover "
                             f"(width x length = {self.width * self.length})")
        if not 0.0 <= self.ps_fraction <= 1.0:
            raise ValueError(f"ps_fraction = {self.ps_fraction} must lie in [0, 1]")
        for name in ("ps_da", "decor_da", "ps_noise"):
            lo, hi = _pair(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"{name} = ({lo}, {hi}) must satisfy 0 <= low <= high")
        if not self.decor_da[0] + 1e-4 < self.da_thresh < 1.0 or self.ps_da[0] + 1e-4 >= self.da_thresh:
            raise ValueError(f"da_thresh = {self.da_thresh} must lie in ({self.decor_da[0]}, 1) "
                             f"and above the PS D_A range start {self.ps_da[0]}")
        if self.ps_da[0] <= 0.0:
            raise ValueError(f"ps_da lower bound {self.ps_da[0]} must be > 0")
        for name in ("pixel_m", "altitude_m", "earth_radius_m", "wavelength_m", "span_years",
                     "density_corr_km", "dem_corr_km", "atm_corr_km", "bowl_sigma_frac"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} = {getattr(self, name)} must be > 0")
        for name in ("bperp_std_m", "bpar_std_m", "density_log_std", "dem_std_m", "dem_err_std_m",
                     "atm_std_rad", "orbit_ramp_rad_per_10km", "seasonal_mm"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} = {getattr(self, name)} must be >= 0")
        if not 0.0 < self.incidence_deg < 80.0:
            raise ValueError(f"incidence_deg = {self.incidence_deg} must lie in (0, 80)")
        if not -90.0 < self.lat0 < 90.0:
            raise ValueError(f"lat0 = {self.lat0} must lie in (-90, 90)")
        try:
            _dt.datetime.strptime(str(self.start_date), "%Y%m%d")
        except ValueError:
            raise ValueError(f"start_date = {self.start_date!r} is not a YYYYMMDD date") from None
        if self.write_raw and self.width * self.length * self.n_images > RAW_LIMIT:
            raise ValueError(f"write_raw: {self.width} x {self.length} pixels x {self.n_images} images exceeds "
                             f"{RAW_LIMIT} samples; raw rasters are meant for small scenes")
        if self.write_raw and self.n_cand > 0.8 * self.width * self.length:
            raise ValueError("write_raw needs at least 20% non-candidate pixels to calibrate the raw SLCs "
                             f"(n_cand = {self.n_cand}, {self.width * self.length} pixels)")
        return self

    def region_pixels(self) -> int:
        """Pixels inside the union of the extended patch windows (where candidates live)."""
        rg_end, az_end = self.region_shape()
        return rg_end * az_end

    def region_shape(self) -> tuple[int, int]:
        """(range, azimuth) extent of the union of the extended windows, from pixel 0."""
        wp, lp = self.width // self.rg_patches, self.length // self.az_patches
        return (min(self.width, wp * self.rg_patches + self.rg_overlap),
                min(self.length, lp * self.az_patches + self.az_overlap))


def _pair(cfg: SynthConfig, name: str) -> tuple[float, float]:
    v = getattr(cfg, name)
    try:
        lo, hi = (float(x) for x in v)
    except (TypeError, ValueError):
        raise ValueError(f"{name} = {v!r} must be a pair (low, high)") from None
    return lo, hi


def _ints_at_least(cfg: SynthConfig, **minimum: int) -> None:
    for name, lo in minimum.items():
        v = getattr(cfg, name)
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise ValueError(f"{name} = {v!r} must be an integer")
        if v < lo:
            raise ValueError(f"{name} = {v} must be >= {lo}")


def make_config(**kwargs) -> SynthConfig:
    """Build and validate a :class:`SynthConfig`; unknown names raise ``ValueError``."""
    known = {f.name for f in fields(SynthConfig)}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(f"unknown synth parameter(s): {', '.join(unknown)}")
    conv = {}
    for k, v in kwargs.items():
        if k in ("ps_da", "decor_da", "ps_noise") and v is not None:
            v = tuple(float(x) for x in v)
        elif isinstance(v, numbers.Integral) and not isinstance(v, bool):
            v = int(v)
        conv[k] = v
    return SynthConfig(**conv).validate()
