"""Single-precision complex arithmetic as StaMPS' reference run (Octave on glibc) performs it.

NumPy's complex64 ``abs`` and multiply are not the same IEEE single operations as
C's ``hypotf`` and the textbook ``(ac - bd, ad + bc)``: its SIMD loops round
differently in up to a third of the cases. Bit-level parity with the reference
outputs of step 6 (spec J.27) needs the operations below, which are exact
float32 formulas:

- :func:`cabs`  - ``hypotf`` (correctly rounded: the double result rounded once);
- :func:`cmul`  - ``(ar*br - ai*bi, ar*bi + ai*br)`` in float32, no fused multiply-add;
- :func:`expi`  - ``exp(1i*x)`` for float32 x as (cosf x, sinf x), here the correctly rounded
  values (glibc's sinf/cosf differ from them in the last bit for about 1 % of arguments);
- :func:`csum`, :func:`rsum` - sequential sums along an axis (Octave's loop order);
- :func:`angle` - ``atan2f`` (NumPy's float32 ``arctan2`` matches it).
"""
from __future__ import annotations

import numpy as np

F32 = np.float32
C64 = np.complex64


def cabs(z: np.ndarray) -> np.ndarray:
    """abs of complex64 values, correctly rounded to float32 (C ``hypotf``)."""
    z = np.asarray(z, dtype=C64)
    re = z.real.astype(np.float64)
    im = z.imag.astype(np.float64)
    return np.sqrt(re * re + im * im).astype(F32)


def cplx(re: np.ndarray, im: np.ndarray) -> np.ndarray:
    """complex64 from float32 parts (exact)."""
    out = np.empty(np.broadcast(re, im).shape, dtype=C64)
    out.real = re
    out.imag = im
    return out


def cmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a*b for complex64 arrays (broadcasting) with separately rounded float32 operations."""
    a = np.asarray(a, dtype=C64)
    b = np.asarray(b, dtype=C64)
    ar, ai, br, bi = a.real, a.imag, b.real, b.imag
    return cplx(ar * br - ai * bi, ar * bi + ai * br)


def cmul_real(z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """complex64 times float32 (each part multiplied)."""
    z = np.asarray(z, dtype=C64)
    r = np.asarray(r, dtype=F32)
    return cplx(z.real * r, z.imag * r)


def cdiv_real(z: np.ndarray, r: np.ndarray) -> np.ndarray:
    """complex64 divided by float32 (each part divided)."""
    z = np.asarray(z, dtype=C64)
    r = np.asarray(r, dtype=F32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return cplx(z.real / r, z.imag / r)


def unit(z: np.ndarray) -> np.ndarray:
    """z ./ abs(z) in single precision (NaN where z == 0, as MATLAB)."""
    return cdiv_real(z, cabs(z))


def expi(x: np.ndarray) -> np.ndarray:
    """exp(1i*x) as complex64. float32 x: single-precision cos/sin (correctly rounded);
    float64 x: the double result rounded to single (MATLAB's double-to-single conversion)."""
    x = np.asarray(x)
    if x.dtype == np.float64:
        return cplx(np.cos(x).astype(F32), np.sin(x).astype(F32))
    xd = x.astype(F32).astype(np.float64)
    return cplx(np.cos(xd).astype(F32), np.sin(xd).astype(F32))


def angle(z: np.ndarray) -> np.ndarray:
    """angle of complex64 values as float32 (``atan2f``)."""
    z = np.asarray(z, dtype=C64)
    return np.arctan2(z.imag, z.real).astype(F32)


def rsum(x: np.ndarray, axis: int) -> np.ndarray:
    """Sequential float32 sum along ``axis`` (NaN propagates)."""
    x = np.moveaxis(np.asarray(x, dtype=F32), axis, 0)
    acc = np.zeros(x.shape[1:], dtype=F32)
    if x.shape[0]:
        acc = x[0].copy()
        for i in range(1, x.shape[0]):
            acc += x[i]
    return acc


def csum(z: np.ndarray, axis: int) -> np.ndarray:
    """Sequential complex64 sum along ``axis`` (real and imaginary parts separately)."""
    z = np.asarray(z, dtype=C64)
    return cplx(rsum(z.real, axis), rsum(z.imag, axis))


def std(x: np.ndarray, axis: int) -> np.ndarray:
    """Sample standard deviation (n-1) in float32 as Octave's ``std``: sqrt(sumsq(x - sum/n)/(n-1))."""
    x = np.asarray(x, dtype=F32)
    n = x.shape[axis]
    if n < 2:
        return np.zeros(np.delete(x.shape, axis), dtype=F32)
    mu = np.expand_dims(rsum(x, axis) / F32(n), axis)
    d = x - mu
    return np.sqrt(rsum(d * d, axis) / F32(n - 1)).astype(F32)
