"""Parity of the native stage-6 arc network, cost files and snaphu runs with the Python stage.

``pystamps_core::stages::unwrap::{arcs, costs, snaphu}`` against
``pystamps_batch/stages/unwrap/{arcs, costs, snaphu}.py``: everything here is integer or
deterministic float32 logic, so every comparison is exact (labels, interp variables, cost
file bytes, snaphu output bits and msd).
"""
from __future__ import annotations

import os
import re
import stat
import sys

import numpy as np
import pytest

from pystamps_batch.errors import StageError
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.stages import unwrap
from pystamps_batch.stages.unwrap.arcs import nearest_node, uw_interp
from pystamps_batch.stages.unwrap.costs import cost_file_bytes, cost_model
from pystamps_batch.stages.unwrap.snaphu import (SNAPHU_ENV, SnaphuProblem, grid_msd, locate_snaphu,
                                                 solve_ifg)

from test_unwrap import SMALL_PARAMS, brute_nearest, load_root, synthetic_inputs

native = pytest.importorskip("pystamps_batch._native")
if not hasattr(native, "unwrap_solve"):
    pytest.skip("native extension lacks the stage-6 arc/snaphu functions", allow_module_level=True)

GOLDENS = ("small-1patch", "multi-2x2", "dense-1patch")


def golden_problem(name: str) -> dict:
    """Inputs of the spatial step from a golden: uw_grid.nzix/ph and uw_space_time D/noise."""
    g = load_root(name, ("uw_grid", "uw_space_time", "uw_phaseuw"))
    gr, ut = g["uw_grid"], g["uw_space_time"]
    return {"nzix": np.asarray(gr["nzix"]).astype(bool), "ph": np.asarray(gr["ph"], dtype=np.complex64),
            "D": np.asarray(ut["dph_space_uw"], dtype=np.float32),
            "noise": np.asarray(ut["dph_noise"], dtype=np.float32), "gold": g["uw_phaseuw"]}


def python_problem(nzix, ph, D, noise, exe, scratch_dir=None) -> SnaphuProblem:
    interp = uw_interp(nzix)
    return SnaphuProblem(node_ph=ph, Z=interp.Z, node_cells=np.flatnonzero(nzix.ravel(order="F")),
                         model=cost_model(interp, noise), D=D, noise=noise,
                         labels=tuple(f"interferogram {k + 1}" for k in range(ph.shape[1])), exe=exe,
                         scratch_dir=None if scratch_dir is None else str(scratch_dir))


@pytest.fixture(scope="module")
def synthetic_problem():
    """The spatial-step problem of stage 6 on synthetic inputs, captured from the Python run."""
    got = {}

    def capture(fn, ks):
        got["problem"] = fn.keywords["problem"]
        return [fn(k) for k in ks]

    unwrap.run(synthetic_inputs(), SMALL_PARAMS, KernelSet.python(), ifg_executor=capture)
    p = got["problem"]
    n_i, n_j = p.Z.shape
    nzix = np.zeros(n_i * n_j, dtype=bool)
    nzix[p.node_cells] = True
    return {"nzix": nzix.reshape(n_i, n_j, order="F"), "ph": p.node_ph, "D": p.D, "noise": p.noise}


# ----------------------------------------------------------------------------- nearest node

def random_masks():
    rng = np.random.default_rng(7)
    for trial in range(120):
        n_i, n_j = rng.integers(1, 40, size=2)
        density = [0.003, 0.02, 0.08, 0.3, 0.8][trial % 5]
        m = rng.random((n_i, n_j)) < density
        if not m.any():
            m[rng.integers(n_i), rng.integers(n_j)] = True
        yield m
    # lattices: every midpoint is a 2- or 4-way tie; more ties than the KD-tree's 8 candidates
    for sp in (2, 3, 4, 6):
        rr, cc = np.meshgrid(np.arange(31), np.arange(27), indexing="ij")
        yield (rr % sp == 0) & (cc % sp == 0)
        yield (rr + 2 * cc) % (sp + 3) == 0
    ring = np.zeros((21, 21), dtype=bool)   # 12 nodes at distance^2 = 25 from the centre
    for dr, dc in [(0, 5), (5, 0), (3, 4), (4, 3)]:
        for sr in (-1, 1):
            for sc in (-1, 1):
                ring[10 + sr * dr, 10 + sc * dc] = True
    yield ring


def test_nearest_node_random_and_tied_masks():
    n = 0
    for m in random_masks():
        z = native.unwrap_nearest_node(m)
        np.testing.assert_array_equal(z, nearest_node(m))
        np.testing.assert_array_equal(z, brute_nearest(m))
        n += 1
    assert n > 100


def test_nearest_node_empty_mask():
    with pytest.raises(ValueError, match="no grid nodes"):
        native.unwrap_nearest_node(np.zeros((3, 4), dtype=bool))


@pytest.mark.parametrize("name", GOLDENS)
def test_interp_golden_exact(name):
    nzix = golden_problem(name)["nzix"]
    np.testing.assert_array_equal(native.unwrap_nearest_node(nzix), nearest_node(nzix))
    ours, ref = native.unwrap_interp(nzix), uw_interp(nzix).to_mat()
    assert list(ours) == list(ref)
    for k in ref:
        assert ours[k].dtype == np.float64 and ours[k].shape == ref[k].shape, k
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)
    gold = load_root(name, ("uw_interp",))["uw_interp"]
    for k in ("edgs", "rowix", "colix", "Z"):
        np.testing.assert_array_equal(ours[k], gold[k], err_msg=f"golden {k}")


def test_interp_synthetic_exact(synthetic_problem):
    nzix = synthetic_problem["nzix"]
    ours, ref = native.unwrap_interp(nzix), uw_interp(nzix).to_mat()
    for k in ref:
        np.testing.assert_array_equal(ours[k], ref[k], err_msg=k)


# ----------------------------------------------------------------------------- cost files

def _check_cost_files(p):
    interp = uw_interp(p["nzix"])
    model = cost_model(interp, p["noise"])
    ours = native.unwrap_cost_files(p["nzix"], p["noise"], p["D"])
    assert len(ours) == p["D"].shape[1]
    for k, b in enumerate(ours):
        assert b == cost_file_bytes(model, p["D"][:, k], p["noise"][:, k]), f"ifg {k}"
    return ours


@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
def test_cost_files_golden_byte_identical(name):
    _check_cost_files(golden_problem(name))


def test_cost_files_synthetic_byte_identical(synthetic_problem):
    _check_cost_files(synthetic_problem)


def test_cost_files_with_nostats_edges():
    """NaN noise rows (edges without statistics) and saturating offsets/sigsq."""
    p = golden_problem("small-1patch")
    noise, D = p["noise"].copy(), p["D"].copy()
    noise[::7] = np.nan
    noise[3::11] *= 400.0                      # sigsq saturates at 32767
    D[5::13] *= 1e4                            # large offsets
    _check_cost_files(dict(p, noise=noise, D=D))


# ----------------------------------------------------------------------------- snaphu

def test_grid_msd_exact():
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (1, 5), (6, 1), (9, 13), (40, 33)]:
        out = rng.normal(0, 5, shape).astype(np.float32)
        out[rng.random(shape) < 0.3] = 1.0           # many zero differences
        assert native.unwrap_grid_msd(out) == grid_msd(out) or (
            np.isnan(grid_msd(out)) and np.isnan(native.unwrap_grid_msd(out)))
    assert np.isnan(native.unwrap_grid_msd(np.zeros((4, 4), np.float32)))


@pytest.mark.parametrize("name", ["small-1patch", "multi-2x2"])
def test_solve_golden_bit_equal(name, tmp_path):
    p = golden_problem(name)
    exe = locate_snaphu()
    prob = python_problem(p["nzix"], p["ph"], p["D"], p["noise"], exe)
    ref = [solve_ifg(k, prob) for k in range(p["ph"].shape[1])]
    node_uw, msd = native.unwrap_solve(p["ph"], p["nzix"], p["noise"], p["D"], list(prob.labels), exe,
                                       scratch_dir=str(tmp_path), threads=2)
    assert node_uw.dtype == np.float32 and msd.dtype == np.float64
    np.testing.assert_array_equal(node_uw, np.stack([r[0] for r in ref], 1))
    np.testing.assert_array_equal(msd, [r[1] for r in ref])
    np.testing.assert_array_equal(node_uw, p["gold"]["ph_uw"])       # and StaMPS' bits
    assert list(tmp_path.iterdir()) == []                            # scratch removed on success


def test_solve_synthetic_bit_equal_any_thread_count(synthetic_problem):
    p = synthetic_problem
    exe = locate_snaphu()
    prob = python_problem(p["nzix"], p["ph"], p["D"], p["noise"], exe)
    ref = [solve_ifg(k, prob) for k in range(p["ph"].shape[1])]
    for threads in (1, 3):
        node_uw, msd = native.unwrap_solve(p["ph"], p["nzix"], p["noise"], p["D"], list(prob.labels), exe,
                                           threads=threads)
        np.testing.assert_array_equal(node_uw, np.stack([r[0] for r in ref], 1))
        np.testing.assert_array_equal(msd, [r[1] for r in ref])


def _fake_snaphu(tmp_path, body, name="fake-snaphu"):
    exe = tmp_path / name
    exe.write_text("#!/bin/sh\n" + body + "\n")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def _normalise(msg: str) -> str:
    """The message with the per-run scratch folder path replaced."""
    return re.sub(r"\S*pystamps_uw_ifg\d+_[^/\s;)]*", "<SCRATCH>", msg)


@pytest.mark.parametrize("body,expect", [
    ("echo boom >&2; exit 3", "exit status 3"),
    ("printf abc > snaphu.out", "snaphu.out has 3 bytes"),
    ("exit 0", "no snaphu.out"),
    ("kill -9 $$", "exit status -9"),
    (None, "could not be started"),
])
def test_failing_snaphu_same_one_line_error(tmp_path, synthetic_problem, body, expect):
    p = synthetic_problem
    exe = tmp_path / "no-such-snaphu" if body is None else _fake_snaphu(tmp_path, body)
    prob = python_problem(p["nzix"], p["ph"], p["D"], p["noise"], str(exe), tmp_path / "py")
    with pytest.raises(StageError) as pe:
        solve_ifg(0, prob)
    with pytest.raises(ValueError) as ne:
        native.unwrap_solve(p["ph"], p["nzix"], p["noise"], p["D"], list(prob.labels), str(exe),
                            scratch_dir=str(tmp_path / "rs"), threads=2)
    msg = str(ne.value)
    assert expect in msg and "\n" not in msg and "for interferogram 1" in msg
    assert _normalise(msg) == _normalise(str(pe.value))
    kept = sorted((tmp_path / "rs").iterdir())
    assert len(kept) == p["ph"].shape[1]                 # every failed run keeps its folder
    assert str(kept[0]) in msg
    for d in kept:
        assert (d / "snaphu.costinfile").is_file() and (d / "snaphu.conf").is_file()
        assert (d / "snaphu.conf").read_text() == (next((tmp_path / "py").iterdir()) / "snaphu.conf").read_text()
    if body and "boom" in body:
        assert all((d / "snaphu.log").read_text().strip() == "boom" for d in kept)


def test_snaphu_inputs_identical_files(tmp_path, synthetic_problem):
    """snaphu.in / snaphu.costinfile written by both implementations are byte-identical."""
    p = synthetic_problem
    exe = _fake_snaphu(tmp_path, "exit 7")
    prob = python_problem(p["nzix"], p["ph"], p["D"], p["noise"], str(exe), tmp_path / "py")
    M = p["ph"].shape[1]
    for k in range(M):
        with pytest.raises(StageError):
            solve_ifg(k, prob)
    with pytest.raises(ValueError):
        native.unwrap_solve(p["ph"], p["nzix"], p["noise"], p["D"], list(prob.labels), str(exe),
                            scratch_dir=str(tmp_path / "rs"))
    for k in range(M):
        (py_dir,) = (tmp_path / "py").glob(f"pystamps_uw_ifg{k + 1:03d}_*")
        (rs_dir,) = (tmp_path / "rs").glob(f"pystamps_uw_ifg{k + 1:03d}_*")
        for f in ("snaphu.conf", "snaphu.in", "snaphu.costinfile"):
            assert (py_dir / f).read_bytes() == (rs_dir / f).read_bytes(), (k, f)


def test_locate_snaphu_env_errors(tmp_path, monkeypatch):
    monkeypatch.setenv(SNAPHU_ENV, str(tmp_path / "no-such-snaphu"))
    with pytest.raises(StageError) as pe:
        locate_snaphu()
    with pytest.raises(ValueError) as ne:
        native.unwrap_locate_snaphu()
    assert str(ne.value) == str(pe.value) and "snaphu executable not found" in str(ne.value)
    plain = tmp_path / "plain"
    plain.write_text("")
    monkeypatch.setenv(SNAPHU_ENV, str(plain))
    with pytest.raises(StageError) as pe:
        locate_snaphu()
    with pytest.raises(ValueError) as ne:
        native.unwrap_locate_snaphu()
    assert str(ne.value) == str(pe.value) and "not executable" in str(ne.value)
    fake = _fake_snaphu(tmp_path, "exit 0")
    monkeypatch.setenv(SNAPHU_ENV, str(fake))
    assert native.unwrap_locate_snaphu() == locate_snaphu() == str(fake)
    # the environment variable wins over a configured path
    assert native.unwrap_locate_snaphu(str(tmp_path / "other")) == str(fake)


def test_locate_snaphu_config_and_wheel(tmp_path, monkeypatch):
    monkeypatch.delenv(SNAPHU_ENV, raising=False)
    fake = _fake_snaphu(tmp_path, "exit 0")
    assert native.unwrap_locate_snaphu(str(fake)) == str(fake)
    with pytest.raises(ValueError, match="snaphu executable not found: .*no-such"):
        native.unwrap_locate_snaphu(str(tmp_path / "no-such"))
    # the wheel's executable, found under $VIRTUAL_ENV without running Python
    monkeypatch.setenv("VIRTUAL_ENV", sys.prefix)
    assert os.path.samefile(native.unwrap_locate_snaphu(), locate_snaphu())
    # nothing anywhere: one line naming the override variable
    monkeypatch.setenv("VIRTUAL_ENV", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    try:
        found = native.unwrap_locate_snaphu()
    except ValueError as e:
        assert "\n" not in str(e) and SNAPHU_ENV in str(e) and "pip install snaphu" in str(e)
    else:   # the running interpreter's own prefix holds the wheel (found from its path)
        assert os.path.samefile(found, locate_snaphu())

