"""Stage 4 (ps_weed) in Rust (``_native.stage4_weed``) against the Python stage.

Stages 1-3 are produced by the Python runner on a synthetic single-patch and multi-patch
dataset and on a copy of the small-1patch golden input; then, per patch, the Python stage
(with the native KernelSet, so the arc-noise kernel is the same code) and the Rust stage
run on the same inputs.  Every output artifact must have the same variables, shapes,
dtypes and values bit for bit (kept sets identical, ps_std / ps_max equal): the Delaunay
arcs are the same set in the same order, and the phasor arithmetic follows NumPy's.
Degenerate cases (duplicates, < 3 survivors, collinear survivors, noise weeding off,
missing optional inputs) are covered on modified copies of the same inputs.
"""
from __future__ import annotations

import numpy as np
import pytest

from pystamps_batch.kernels.registry import native_available
from pystamps_batch.parameters_io import load_params
from pystamps_batch.stages import weed
from test_native_stage3 import assert_same_artifact, make_dataset, native_kernels, patch_inputs

pytestmark = pytest.mark.skipif(not native_available()[0], reason="native extension not built")


def run_both(inp: dict, params):
    from pystamps_batch import _native
    py_log = []
    py = weed.run(inp, params, native_kernels(), log=py_log.append)
    rs, rs_log = _native.stage4_weed(inp, params, 0)
    return py, py_log, rs, rs_log


def assert_same(inp, params, where=""):
    py, py_log, rs, rs_log = run_both(inp, params)
    assert list(rs) == list(py), where
    for name in py:
        assert_same_artifact(py[name], rs[name], where=f"{where}{name}.")
    assert rs_log == py_log, where
    return py, py_log


@pytest.fixture(scope="module", params=["single", "multi", "golden"])
def stage3(request, tmp_path_factory):
    return make_dataset(request.param, tmp_path_factory, 3)


def test_stage4_matches_python(stage3):
    patches = sorted(p for p in stage3.glob("PATCH_*") if (p / "select1.mat").is_file())
    assert patches
    for folder in patches:
        inp = patch_inputs(folder, weed)
        py, _ = assert_same(inp, load_params(stage3, folder), where=f"{folder.name}: ")
        assert 0 < int(py["weed1"]["ix_weed"].sum()) < py["weed1"]["ix_weed"].size


def test_stage4_variants(stage3):
    """Neighbour and zero-elevation weeding, a dropped interferogram, noise weeding off,
    a max-noise threshold, and missing optional inputs / an extra inc1."""
    folder = sorted(stage3.glob("PATCH_*"))[0]
    inp = patch_inputs(folder, weed)
    base = load_params(stage3, folder)
    hgt = np.asarray(inp["hgt1"]["hgt"]).copy()
    hgt[::7] = 0.0                                        # some zero elevations
    inp_z = dict(inp, hgt1={"hgt": hgt}, inc1={"inc": np.asarray(inp["la1"]["la"]).astype(np.float32) * 2})
    for upd in ({"weed_neighbours": "y", "weed_zero_elevation": "y", "drop_ifg_index": [2, 4]},
                {"weed_standard_dev": 4.0, "weed_max_noise": np.inf},
                {"weed_standard_dev": 1.2, "weed_max_noise": 1.5, "weed_time_win": 365.0}):
        assert_same(inp_z, base.replace(**upd), where=f"{upd}: ")
    bare = {k: v for k, v in inp.items() if k not in ("hgt1", "la1", "inc1")}
    assert_same(bare, base.replace(weed_zero_elevation="y"), where="no optional inputs: ")


def test_stage4_duplicates_and_degenerate_sets(stage3):
    folder = sorted(stage3.glob("PATCH_*"))[0]
    inp = patch_inputs(folder, weed)
    params = load_params(stage3, folder)
    sel = inp["select1"]
    kept = np.asarray(sel["ix"]).ravel().astype(np.int64)[np.asarray(sel["keep_ix"]).ravel() > 0] - 1
    # duplicates: copy the xy of some kept pixels onto others
    xy = np.asarray(inp["ps1"]["xy"]).copy()
    xy[kept[1:40:3], 1:3] = xy[kept[0:39:3], 1:3]
    _, log = assert_same(dict(inp, ps1=dict(inp["ps1"], xy=xy)), params, where="duplicates: ")
    assert any("duplicate" in m for m in log)

    def only(rows):
        keep = np.zeros_like(np.asarray(sel["keep_ix"]))
        pos = np.flatnonzero(np.asarray(sel["keep_ix"]).ravel() > 0)[rows]
        keep[pos] = 1
        return dict(inp, select1=dict(sel, keep_ix=keep))

    # fewer than 3 survivors: no arcs, everything dropped
    _, log = assert_same(only([0, 1]), params, where="two: ")
    assert any("fewer than 3" in m for m in log)
    # collinear survivors: arcs between consecutive points on the line
    few = only(list(range(6)))
    xy = np.asarray(inp["ps1"]["xy"]).copy()
    t = np.array([0.0, 3.0, 1.0, 7.0, 2.5, 5.0], dtype=np.float32)
    xy[kept[:6], 1] = 100 + 20 * t
    xy[kept[:6], 2] = 50 + 10 * t
    _, log = assert_same(dict(few, ps1=dict(inp["ps1"], xy=xy)), params, where="collinear: ")
    assert any("collinear" in m for m in log)
    # nothing kept by step 3
    assert_same(only([]), params, where="none: ")


def test_stage4_bad_inputs(stage3):
    from pystamps_batch import _native
    folder = sorted(stage3.glob("PATCH_*"))[0]
    inp = patch_inputs(folder, weed)
    params = load_params(stage3, folder)
    bad = dict(inp, select1=dict(inp["select1"], ix=np.asarray(inp["select1"]["ix"]) + 1e9))
    with pytest.raises(ValueError, match="outside"):
        _native.stage4_weed(bad, params, 0)
    bad = dict(inp, select1=dict(inp["select1"], keep_ix=np.asarray(inp["select1"]["keep_ix"])[:-1]))
    with pytest.raises(ValueError, match="keep_ix"):
        _native.stage4_weed(bad, params, 0)
