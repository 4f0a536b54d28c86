"""numpy's float64 transcendental functions must match glibc's libm on every CPU (see
pystamps_batch._numerics): on AVX-512 machines numpy's own SIMD arccos/sin/cos differ by an ulp."""
import math
import os
import subprocess
import sys

PROBE = r"""
import math, sys
import pystamps_batch, numpy as np
x = np.random.default_rng(0).uniform(-1, 1, 200_000)
ok = all(v == math.acos(t) for v, t in zip(np.arccos(x).tolist(), x.tolist()))
ok &= all(v == math.cos(t) for v, t in zip(np.cos(x * 3).tolist(), (x * 3).tolist()))
sys.exit(0 if ok else 3)
"""


def test_numpy_float64_math_equals_libm_in_a_fresh_process():
    env = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "PYSTAMPS_NUMPY_SIMD")}
    r = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_pin_is_inherited_by_children():
    assert "X86_V4" in os.environ["NPY_DISABLE_CPU_FEATURES"].split()
    r = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('NPY_DISABLE_CPU_FEATURES', ''))"],
                       capture_output=True, text=True)
    assert "AVX512F" in r.stdout.split()


def test_in_process_numpy_equals_libm():
    import numpy as np

    x = np.linspace(-1, 1, 100_001)
    assert all(v == math.acos(t) for v, t in zip(np.arccos(x).tolist(), x.tolist()))
