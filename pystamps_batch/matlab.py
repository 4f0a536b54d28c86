"""MATLAB numeric semantics that StaMPS parity depends on (spec section 0).

NumPy differs from MATLAB in rounding, integer casts, ``hist`` binning and a few
signal-processing helpers.  Every stage imports these from here so that the
MATLAB behaviour is implemented once.
"""
from __future__ import annotations

import numpy as np

#: Centres of the 100 coherence bins used by steps 2 and 3 (0.005:0.01:0.995).
COH_BINS = (np.arange(100) + 0.5) / 100.0


def mround(x):
    """MATLAB ``round``: halves away from zero (NumPy rounds halves to even)."""
    x = np.asarray(x)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def sat_int16(x):
    """MATLAB ``int16(x)``: round half away, NaN -> 0, saturate to [-32768, 32767]."""
    x = np.asarray(x, dtype=np.float64)
    r = mround(x)
    r = np.where(np.isnan(r), 0.0, r)
    return np.clip(r, -32768, 32767).astype(np.int16)


def hist_centres(y, centres=COH_BINS):
    """MATLAB ``hist(y, centres)`` counts.

    Edges are the mid-points between consecutive centres; bin b is right-closed
    ``(e[b-1], e[b]]``; the outer bins extend to -inf/+inf; NaN is not counted.
    Returns float64 counts of shape ``(len(centres),)``.
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    y = y[~np.isnan(y)]
    c = np.asarray(centres, dtype=np.float64)
    edges = (c[:-1] + c[1:]) / 2.0
    # right-closed bins: index = number of edges strictly below y
    idx = np.searchsorted(edges, y, side="left")
    return np.bincount(idx, minlength=len(c)).astype(np.float64)


def gausswin(n: int, alpha: float = 2.5) -> np.ndarray:
    """MATLAB ``gausswin(n, alpha)`` (Signal Processing Toolbox), float64, shape ``(n,)``."""
    k = np.arange(n) - (n - 1) / 2.0
    return np.exp(-0.5 * (alpha * k / ((n - 1) / 2.0)) ** 2)


def wrap(x):
    """``angle(exp(1j*x))``: wrap radians into (-pi, pi]."""
    return np.angle(np.exp(1j * np.asarray(x)))


def datenum(yyyymmdd: str | int) -> float:
    """MATLAB serial day number of a ``YYYYMMDD`` date (days since year 0, day 1 = 1-Jan-0000)."""
    import datetime as _dt

    s = str(yyyymmdd).strip()
    d = _dt.date(int(s[0:4]), int(s[4:6]), int(s[6:8]))
    return float(d.toordinal() + 366)


def datestr(dn: float) -> str:
    """Inverse of :func:`datenum` to ``YYYYMMDD``."""
    import datetime as _dt

    return _dt.date.fromordinal(int(round(dn)) - 366).strftime("%Y%m%d")


def abs_single(z) -> np.ndarray:
    """MATLAB/Octave ``abs`` of a single complex array: the correctly rounded modulus (float32).

    NumPy's complex64 ``abs`` is not always correctly rounded; Octave's (``hypotf``) is,
    which an exact hypot in double followed by rounding to float32 reproduces.
    """
    z = np.asarray(z)
    return np.hypot(z.real.astype(np.float64), z.imag.astype(np.float64)).astype(np.float32)


def expj_single(a) -> np.ndarray:
    """MATLAB/Octave ``exp(1i*a)`` for a single real array: complex64 with correctly
    rounded cos/sin (NumPy's complex64 ``exp`` differs in the last bit)."""
    a = np.asarray(a, dtype=np.float32).astype(np.float64)
    out = np.empty(a.shape, dtype=np.complex64)
    out.real = np.cos(a)
    out.imag = np.sin(a)
    return out


def cmul_single(x, y) -> np.ndarray:
    """MATLAB/Octave single complex product ``x.*y`` (no fused multiply-add), complex64.

    NumPy's complex64 multiply may differ from Octave's in the last bit; this spells
    out ``(xr*yr - xi*yi) + 1i*(xr*yi + xi*yr)`` in float32.
    """
    x = np.asarray(x, dtype=np.complex64)
    y = np.asarray(y, dtype=np.complex64)
    xr, xi, yr, yi = x.real, x.imag, y.real, y.imag
    out = np.empty(np.broadcast_shapes(x.shape, y.shape), dtype=np.complex64)
    out.real = xr * yr - xi * yi
    out.imag = xr * yi + xi * yr
    return out


def angle_single(z) -> np.ndarray:
    """MATLAB/Octave ``angle`` of a single complex array: correctly rounded ``atan2`` as float32."""
    z = np.asarray(z)
    return np.arctan2(z.imag.astype(np.float64), z.real.astype(np.float64)).astype(np.float32)


def sum_single(x, axis: int = 0) -> np.ndarray:
    """MATLAB/Octave ``sum(x, dim)`` of a single array: float32, accumulated sequentially
    along ``axis`` (NumPy's pairwise summation gives different last bits).

    For a C-contiguous array with the reduced axis moved first, NumPy adds whole
    rows one after another, which is the sequential order.
    """
    x = np.moveaxis(np.asarray(x, dtype=np.float32), axis, 0)
    return np.add.reduce(np.ascontiguousarray(x), axis=0, dtype=np.float32)
