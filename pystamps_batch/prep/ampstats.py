"""Amplitude statistics of mt_prep's C tools ``calamp`` and ``selpsc_patch`` (spec A.4).

This is the kernel boundary of ``prep snap`` (python reference implementation; a native
version can replace these two functions with the same contract).  Both reproduce the C
tools' arithmetic:

* the amplitude of a complex float ``s`` is ``|s|`` computed as glibc's ``cabsf`` does
  (``sqrt(re² + im²)`` in double, rounded to float);
* ``calamp``: double sum of the amplitudes above 0.001 and their count, per SLC;
* ``selpsc_patch``: per pixel, over the N SLCs in calamp.out order, single-precision
  ``a_i = |s_i| / cal_i`` (``cal_i`` = the float parsed from calamp.out), running sums
  ``Σa`` and ``Σa²`` in single precision; an amplitude ``<= 5e-5`` flags the pixel and
  resets ``Σa`` to 0 (``Σa²`` is not reset); ``D² = N·Σa² / (Σa)² - 1`` in single.
"""
from __future__ import annotations

import numpy as np

#: calamp counts pixels with amplitude strictly above this (double comparison).
CALAMP_MIN_AMP = 0.001
#: selpsc_patch flags a calibrated amplitude at or below this (double comparison) as zero.
SELPSC_ZERO_AMP = 0.00005


def cabs_f32(z: np.ndarray) -> np.ndarray:
    """``|z|`` of complex64 values as float32, as C's ``abs(complex<float>)`` (glibc hypotf)."""
    z = np.asarray(z)
    re = z.real.astype(np.float64)
    im = z.imag.astype(np.float64)
    return np.sqrt(re * re + im * im).astype(np.float32)


def calamp_block(block: np.ndarray) -> tuple[float, int]:
    """(sum of amplitudes > 0.001 as double, their count) of one block of an SLC.

    ``block``: complex64 of any shape in native byte order.  Summing the blocks of an
    SLC and dividing gives calamp's calibration constant (stored as float).
    """
    a = cabs_f32(block).astype(np.float64)
    keep = a > CALAMP_MIN_AMP
    return float(a[keep].sum()), int(np.count_nonzero(keep))


def selpsc_block(slcs: np.ndarray, cal: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """selpsc_patch's per-pixel statistics of a block.

    ``slcs``: (N, lines, pixels) complex64, native byte order, in calamp.out order;
    ``cal``: (N,) float32 calibration constants as parsed from calamp.out.
    Returns ``sumamp`` (lines, pixels) float32 (the mean_amp.flt value), ``d_sq``
    float32 (``D_A²``; meaningful where ``sumamp > 0``) and ``amp0`` bool (a zero
    amplitude occurred).
    """
    slcs = np.asarray(slcs)
    cal = np.asarray(cal, dtype=np.float32)
    n = slcs.shape[0]
    shape = slcs.shape[1:]
    sumamp = np.zeros(shape, dtype=np.float32)
    sumsq = np.zeros(shape, dtype=np.float32)
    amp0 = np.zeros(shape, dtype=bool)
    for i in range(n):
        a = cabs_f32(slcs[i]) / cal[i]
        zero = a.astype(np.float64) <= SELPSC_ZERO_AMP
        amp0 |= zero
        sumamp = np.where(zero, np.float32(0), sumamp + a)
        sumsq = np.where(zero, sumsq, sumsq + a * a)
    with np.errstate(divide="ignore", invalid="ignore"):
        d_sq = (np.float32(n) * sumsq / (sumamp * sumamp) - np.float32(1)).astype(np.float32)
    return sumamp, d_sq, amp0


def selected(sumamp: np.ndarray, d_sq: np.ndarray, amp0: np.ndarray, thresh: np.float32) -> tuple[np.ndarray, np.ndarray]:
    """(candidate mask, zero-amplitude mask) of selpsc_patch for threshold ``thresh``
    (float32 as parsed from selpsc.in; negative selects ``D_A >= |thresh|``)."""
    thresh = np.float32(thresh)
    thr_sq = np.float32(thresh * thresh)
    with np.errstate(invalid="ignore"):
        passed = (d_sq >= thr_sq) if thresh < 0 else (d_sq < thr_sq)
    passed &= sumamp > 0
    return passed & ~amp0, passed & amp0


def da_text(d_sq: np.ndarray) -> str:
    """pscands.1.da lines: ``sqrt(D²)`` in single precision, C++ stream default (``%g``)."""
    d = np.sqrt(np.asarray(d_sq, dtype=np.float32)).astype(np.float32)
    vals = d.astype(np.float64).tolist()
    return ("%g\n" * len(vals)) % tuple(vals) if vals else ""
