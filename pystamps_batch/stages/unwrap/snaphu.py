"""Locating and running SNAPHU for one interferogram (spec C.6.6 steps 5-6, E.1).

The executable is the one bundled in the ``snaphu`` PyPI wheel (SNAPHU 2.0.7, file
``snaphu/snaphu`` inside the package folder), unless the environment variable
``PYSTAMPS_SNAPHU`` names another one. It is run with an argument list (no shell)
as ``snaphu -d -f snaphu.conf <n_cols>`` in a fresh scratch folder holding
``snaphu.conf``, ``snaphu.in`` and ``snaphu.costinfile``; stdout and stderr go to
``snaphu.log`` there. The folder is deleted on success and kept on failure.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import StageError
from .costs import CostModel, cost_file_bytes

#: Environment variable overriding the snaphu executable.
SNAPHU_ENV = "PYSTAMPS_SNAPHU"

#: ``snaphu.conf`` as StaMPS writes it. NSHORTCYCLE and COSTSCALE are deliberately
#: absent: the cost file's scaling assumes snaphu's defaults (200 and 100).
SNAPHU_CONF = (
    "INFILE  snaphu.in\n"
    "OUTFILE snaphu.out\n"
    "COSTINFILE snaphu.costinfile\n"
    "STATCOSTMODE  DEFO\n"
    "INFILEFORMAT  COMPLEX_DATA\n"
    "OUTFILEFORMAT FLOAT_DATA\n"
)


def _bundled_snaphu() -> Path | None:
    """Path of the executable inside the installed ``snaphu`` package (without importing it)."""
    spec = importlib.util.find_spec("snaphu")
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        p = Path(loc) / "snaphu"
        if p.is_file():
            return p
    return None


def locate_snaphu() -> str:
    """The snaphu executable to run: ``$PYSTAMPS_SNAPHU``, else the wheel's, else ``snaphu`` on PATH.

    Raises StageError (one line) when none is usable.
    """
    env = os.environ.get(SNAPHU_ENV, "").strip()
    if env:
        p = Path(env)
        if not p.is_file():
            raise StageError(f"snaphu executable not found: {SNAPHU_ENV}={env} does not exist")
        if not os.access(p, os.X_OK):
            raise StageError(f"snaphu executable not usable: {SNAPHU_ENV}={env} is not executable")
        return str(p)
    p = _bundled_snaphu()
    if p is not None and os.access(p, os.X_OK):
        return str(p)
    on_path = shutil.which("snaphu")
    if on_path:
        return on_path
    raise StageError("snaphu executable not found: install the 'snaphu' Python package (pip install snaphu) "
                     f"or set {SNAPHU_ENV} to the executable")


def make_scratch(scratch_dir: str | os.PathLike | None, tag: str) -> Path:
    """A fresh private folder for one snaphu run, under ``scratch_dir`` or the system temp."""
    if scratch_dir is not None:
        Path(scratch_dir).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"pystamps_uw_{tag}_", dir=scratch_dir))


def run_snaphu(exe: str, workdir: Path, grid_in: np.ndarray, cost: bytes, label: str,
               timeout: float | None = None) -> np.ndarray:
    """Write the inputs into ``workdir``, run snaphu there and read its output.

    ``grid_in``: (n_i, n_j) complex64 wrapped grid (written row-major); ``cost``: the cost
    file bytes; ``label``: names the ifg in errors. Returns (n_i, n_j) float32 unwrapped
    phase. Raises StageError naming ``label`` and ``workdir`` on any failure.
    """
    n_i, n_j = grid_in.shape
    (workdir / "snaphu.conf").write_text(SNAPHU_CONF)
    (workdir / "snaphu.in").write_bytes(np.ascontiguousarray(grid_in, dtype=np.complex64).astype("=c8").tobytes())
    (workdir / "snaphu.costinfile").write_bytes(cost)
    args = [exe, "-d", "-f", "snaphu.conf", str(n_j)]
    log_path = workdir / "snaphu.log"
    try:
        with open(log_path, "wb") as log:
            proc = subprocess.run(args, cwd=workdir, stdout=log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=timeout, check=False)
    except OSError as exc:
        raise StageError(f"snaphu could not be started for {label}: {exc.strerror or exc} "
                         f"(executable {exe}; scratch kept in {workdir})") from None
    except subprocess.TimeoutExpired:
        raise StageError(f"snaphu timed out after {timeout:g} s for {label}; scratch kept in {workdir}") from None
    if proc.returncode != 0:
        raise StageError(f"snaphu failed for {label} with exit status {proc.returncode}; "
                         f"see {log_path} (scratch kept)")
    out = workdir / "snaphu.out"
    want = 4 * n_i * n_j
    size = out.stat().st_size if out.is_file() else -1
    if size != want:
        got = "no snaphu.out" if size < 0 else f"snaphu.out has {size} bytes"
        raise StageError(f"snaphu produced bad output for {label}: {got}, expected {want} "
                         f"({n_i} x {n_j} float32); see {log_path} (scratch kept)")
    return np.fromfile(out, dtype="=f4").reshape(n_i, n_j)


# ----------------------------------------------------------------------------- one interferogram

@dataclass(frozen=True)
class SnaphuProblem:
    """Everything one interferogram's spatial unwrapping needs (picklable, read-only).

    ``node_ph``: (n_nodes, M_U) complex64 filtered node phasors; ``Z``: (n_i, n_j) 0-based
    nearest node per cell; ``node_cells``: (n_nodes,) column-major cell index of each node;
    ``model``: the static cost terms; ``D``/``noise``: (n_edge, M_U) float32 from the
    space-time step; ``labels``: one text per ifg column for messages;
    ``exe``: snaphu executable; ``scratch_dir``: parent of the per-ifg folders (None = system temp).
    """

    node_ph: np.ndarray
    Z: np.ndarray
    node_cells: np.ndarray
    model: CostModel
    D: np.ndarray
    noise: np.ndarray
    labels: tuple[str, ...]
    exe: str
    scratch_dir: str | None = None
    timeout: float | None = None


def grid_msd(out: np.ndarray) -> float:
    """Mean of the squared non-zero differences between vertically and horizontally adjacent cells.

    Differences in float64 of the float32 output; sums are sequential in MATLAB's column-major
    order. NaN when every difference is zero.
    """
    o = out.astype(np.float64)
    d1 = (o[:-1, :] - o[1:, :]).ravel(order="F")
    d2 = (o[:, :-1] - o[:, 1:]).ravel(order="F")
    d1, d2 = d1[d1 != 0], d2[d2 != 0]
    n = d1.size + d2.size
    if n == 0:
        return float("nan")
    s1 = np.cumsum(d1 * d1)[-1] if d1.size else 0.0
    s2 = np.cumsum(d2 * d2)[-1] if d2.size else 0.0
    return float((s1 + s2) / n)


def solve_ifg(k: int, problem: SnaphuProblem) -> tuple[np.ndarray, float]:
    """Spatially unwrap ifg column ``k`` (0-based among the M_U unwrapped ifgs) with snaphu.

    Pure apart from its private scratch folder. Returns (node_uw (n_nodes,) float32 in node
    order, msd float). Raises StageError naming the ifg on failure.
    """
    label = problem.labels[k]
    cost = cost_file_bytes(problem.model, problem.D[:, k], problem.noise[:, k])
    grid_in = problem.node_ph[:, k][problem.Z]
    workdir = make_scratch(problem.scratch_dir, f"ifg{k + 1:03d}")
    out = run_snaphu(problem.exe, workdir, grid_in, cost, label, problem.timeout)
    shutil.rmtree(workdir, ignore_errors=True)
    node_uw = out.ravel(order="F")[problem.node_cells].astype(np.float32)
    return node_uw, grid_msd(out)
