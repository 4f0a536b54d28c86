"""Same floating-point results on every x86-64 CPU: keep numpy off its AVX-512 math paths.

numpy dispatches float64 ``sin``/``cos``/``arccos``/``exp``/... to AVX-512 (SVML-derived)
implementations when the CPU has AVX-512. Those differ from glibc's libm (what StaMPS under
MATLAB/Octave, and numpy on AVX2 CPUs, compute) by an ulp here and there: a look angle, a
local coordinate or a wrapped phase then differs between two machines and the
StaMPS-parity and run-vs-run strict verification see it (measured: ``la1`` of the snap
golden differed in 113 of 7998 values by 1.1e-16). numpy reads ``NPY_DISABLE_CPU_FEATURES``
once, when it is first imported, so :func:`pin_numpy_dispatch` must run before that; the
package's ``__init__`` calls it, and child processes (MPI ranks, workers) inherit it.

Unknown feature names are ignored by numpy, so the list holds the names of numpy < 2.4
(``AVX512F`` ...) and of numpy >= 2.4 (``X86_V4`` ...). ``PYSTAMPS_NUMPY_SIMD=native``
leaves numpy's dispatch alone (faster on AVX-512 CPUs, not bit-reproducible across CPUs).
"""
from __future__ import annotations

import os
import sys

AVX512_FEATURES = ("X86_V4 AVX512_ICL AVX512_SPR AVX512F AVX512CD AVX512_KNL AVX512_KNM "
                   "AVX512_SKX AVX512_CLX AVX512_CNL")


def pin_numpy_dispatch() -> bool:
    """Disable numpy's AVX-512 dispatch targets for this process and its children.

    Returns True when the setting is in effect for this process (numpy not imported yet, or
    imported with it already set); False when numpy was imported earlier without it.
    """
    if os.environ.get("PYSTAMPS_NUMPY_SIMD", "").lower() == "native":
        return False
    cur = os.environ.get("NPY_DISABLE_CPU_FEATURES", "")
    if "X86_V4" not in cur.split() or "AVX512F" not in cur.split():
        os.environ["NPY_DISABLE_CPU_FEATURES"] = (cur + " " + AVX512_FEATURES).strip()
        return "numpy" not in sys.modules
    return True
