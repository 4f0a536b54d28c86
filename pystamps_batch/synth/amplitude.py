"""Amplitudes: calibration constants, exact-D_A amplitude series, clutter brightness.

Calibrated amplitude of image k: ``a_k = |s_k| / cal_k`` (calamp + selpsc_patch, spec A.4).
A candidate's series is built so that selpsc's dispersion
``D_A = sqrt(N sum a^2 / (sum a)^2 - 1)`` (population std / mean) equals its target
exactly.  Non-candidate ("clutter") pixels only enter ``mean_amp.flt`` (sum of
calibrated amplitudes) and, with ``write_raw``, the raw SLCs; their D_A is kept
at least 10 % above the threshold so that selpsc would not select them.
"""
from __future__ import annotations

import math

import numpy as np

from .signals import CoarseGrid, random_field
from .streams import rng

#: Side (pixels) of the tiles in which clutter is generated (one random stream per tile).
TILE = 128
#: Smallest allowed amplitude relative to the series mean (selpsc flags <= 5e-5 as zero).
MIN_REL_AMP = 0.05
#: Lognormal spread of candidate mean amplitudes and of clutter brightness.
CAND_LOG_STD = 0.3
CLUTTER_LOG_STD = 0.35
CLUTTER_FIELD_STD = 0.4


def calibration_constants(seed: int, n_images: int) -> np.ndarray:
    """calamp constants (mean amplitude of each SLC), rounded to calamp.out's 6 digits: (N,) float64."""
    v = 100.0 * np.exp(0.1 * rng(seed, "calibration").standard_normal(n_images))
    return np.array([float(f"{x:g}") for x in v])


def selpsc_da(a: np.ndarray) -> np.ndarray:
    """selpsc's amplitude dispersion of series ``a`` (n, N) (calibrated amplitudes), float64."""
    a = np.asarray(a, dtype=np.float64)
    n = a.shape[-1]
    s1, s2 = a.sum(-1), (a * a).sum(-1)
    return np.sqrt(np.maximum(n * s2 / (s1 * s1) - 1.0, 0.0))


def dispersion_series(gen: np.random.Generator, da: np.ndarray, mean: np.ndarray, n_images: int) -> np.ndarray:
    """Positive amplitude series with exact mean and population D_A: (n, N) float64.

    Lognormal draws (log-std chosen for a dispersion of about 2 D_A) are standardised per
    row to mean 0 and population std 1 (z), and ``a = mean (1 + D_A z)``.  Rows whose
    smallest value would fall below ``MIN_REL_AMP * mean`` are redrawn; after 30 rounds
    the rest get a deterministic spike pattern (one high image, the others equal).
    """
    da = np.asarray(da, dtype=np.float64)
    n = da.size
    z = np.empty((n, n_images))
    todo = np.arange(n)
    s = np.sqrt(np.log1p((2.0 * da) ** 2))
    for _ in range(30):
        if todo.size == 0:
            break
        x = np.exp(s[todo, None] * gen.standard_normal((todo.size, n_images)))
        zz = x - x.mean(axis=1, keepdims=True)
        sd = np.sqrt((zz * zz).mean(axis=1, keepdims=True))
        zz = zz / np.where(sd > 0, sd, 1.0)
        ok = (sd[:, 0] > 0) & (1.0 + da[todo] * zz.min(axis=1) >= MIN_REL_AMP)
        z[todo[ok]] = zz[ok]
        todo = todo[~ok]
    if todo.size:
        spike = np.full(n_images, -1.0 / math.sqrt(n_images - 1))
        spike[0] = math.sqrt(n_images - 1)
        pos = gen.integers(0, n_images, size=todo.size)
        z[todo] = np.stack([np.roll(spike, p) for p in pos])
    return np.asarray(mean, dtype=np.float64)[:, None] * (1.0 + da[:, None] * z)


def candidate_brightness(gen: np.random.Generator, n: int, n_pixels: int, n_cand: int) -> np.ndarray:
    """Mean calibrated amplitude of each candidate (lognormal, median min(3, n_pixels / (2 n_cand)))."""
    median = min(3.0, 0.5 * n_pixels / max(n_cand, 1))
    return median * np.exp(CAND_LOG_STD * gen.standard_normal(n))


class Clutter:
    """Non-candidate pixels: brightness per pixel (and per-image series for raw rasters).

    Brightness ``b`` (mean calibrated amplitude over the images) = ``scale`` x smooth
    lognormal field x per-pixel lognormal, with ``scale`` chosen so that the expected
    image mean of calibrated amplitudes is 1 (calamp's normalisation).  Everything is
    generated per TILE x TILE tile from its own stream, so any window can be rebuilt.
    Without raw rasters a pixel's ``mean_amp`` sum is ``N b``; with them it is
    ``sum_k x_k / X_k`` where ``x`` is the pixel's series and ``X_k`` the per-image
    factor that makes every raw image's mean amplitude equal its calamp constant.
    """

    def __init__(self, cfg, n_images: int, mean_cand_amp: float):
        self.cfg = cfg
        self.n_images = n_images
        self.grid = CoarseGrid.for_image(cfg.width, cfg.length, cfg.pixel_m, 250.0)
        self.field = CLUTTER_FIELD_STD * random_field(self.grid.shape, self.grid.spacing_m, 1000.0,
                                                      rng(cfg.seed, "brightness"))
        npix = cfg.width * cfg.length
        n_cl = max(npix - cfg.n_cand, 1)
        self.scale = max(0.05, (npix - cfg.n_cand * mean_cand_amp) / n_cl)
        lo = max(0.45, 1.1 * cfg.da_thresh)
        self.da_range = (lo, lo + 0.3)
        self.image_factor: np.ndarray | None = None     # X_k, set by the raw writer

    @property
    def tiles_shape(self) -> tuple[int, int]:
        return (math.ceil(self.cfg.length / TILE), math.ceil(self.cfg.width / TILE))

    def tile_bounds(self, iy: int, ix: int) -> tuple[int, int, int, int]:
        """(az0, az1, rg0, rg1) 0-based, end exclusive."""
        return (iy * TILE, min((iy + 1) * TILE, self.cfg.length), ix * TILE, min((ix + 1) * TILE, self.cfg.width))

    def tile_brightness(self, iy: int, ix: int) -> np.ndarray:
        """Clutter brightness of every pixel of tile (iy, ix): (lines, pixels) float64."""
        a0, a1, r0, r1 = self.tile_bounds(iy, ix)
        az, rg = np.meshgrid(np.arange(a0, a1), np.arange(r0, r1), indexing="ij")
        smooth = np.exp(self.grid.sample(self.field, az.ravel(), rg.ravel()) - CLUTTER_FIELD_STD ** 2 / 2)
        g = rng(self.cfg.seed, "clutter", iy, ix)
        speck = np.exp(CLUTTER_LOG_STD * g.standard_normal(az.size) - CLUTTER_LOG_STD ** 2 / 2)
        return (self.scale * smooth * speck).reshape(az.shape)

    def tile_series(self, iy: int, ix: int, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-image clutter amplitudes x (lines, pixels, N) (mean b, D_A in da_range) and phases (rad)."""
        g = rng(self.cfg.seed, "clutter_raw", iy, ix)
        da = g.uniform(*self.da_range, size=b.size)
        x = dispersion_series(g, da, b.ravel(), self.n_images).reshape(b.shape + (self.n_images,))
        ph = g.uniform(-np.pi, np.pi, size=x.shape)
        return x, ph

    def tile_sum(self, iy: int, ix: int) -> np.ndarray:
        """mean_amp.flt value (sum of calibrated amplitudes) of every pixel of a tile, float64."""
        b = self.tile_brightness(iy, ix)
        if self.image_factor is None:
            return self.n_images * b
        x, _ = self.tile_series(iy, ix, b)
        return (x / self.image_factor).sum(axis=-1)
