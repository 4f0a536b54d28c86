"""Step 5 (ps_correct_phase, ps_merge_patches, ps_calc_ifg_std) against the Octave goldens."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from golden import golden_dir, golden_params
from pystamps_batch.errors import StageError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.kernels.registry import KernelSet
from pystamps_batch.matlab import abs_single, sum_single
from pystamps_batch.stages import correct, ifgstd, merge

KS = KernelSet.python()


def _patches(name):
    g = golden_dir(name)
    return g, (g / "input" / "patch.list").read_text().split()


def _load_patch_arrays(g, pn, rc2=None):
    d = g / "stamps" / pn
    arr = {a: load_mat(d / f"{a}.mat") for a in merge.PATCH_READS if a != "rc2"}
    arr["rc2"] = rc2 if rc2 is not None else load_mat(d / "rc2.mat")
    return merge.PatchArrays(pn, merge.read_noover(g / "input" / pn / "patch_noover.in"), arr)


def _rel(a, b):
    a = np.asarray(a).astype(np.complex128)
    b = np.asarray(b).astype(np.complex128)
    return float((np.abs(a - b) / np.maximum(np.abs(b), 1e-30)).max())


@pytest.fixture(scope="module", params=["small-1patch", "multi-2x2"])
def merged(request):
    """Our 5a on every golden patch, then our merge: (golden dir, our 5a outputs, merged outputs)."""
    name = request.param
    g, plist = _patches(name)
    params = golden_params(name)
    rcs, patches = {}, []
    for pn in plist:
        d = g / "stamps" / pn
        rcs[pn] = correct.run({a: load_mat(d / f"{a}.mat") for a in correct.READS}, params, KS)["rc2"]
        patches.append(_load_patch_arrays(g, pn, rcs[pn]))
    out = merge.run(patches, params, KS)
    out.update(ifgstd.run(out, params, KS))           # 5b as the runner executes it
    return g, plist, rcs, out


def test_correct_phase_matches_golden(merged):
    g, plist, rcs, _ = merged
    for pn in plist:
        gold = load_mat(g / "stamps" / pn / "rc2.mat")
        ours = rcs[pn]
        assert ours["ph_rc"].dtype == np.complex64 and ours["ph_rc"].shape == gold["ph_rc"].shape
        assert _rel(ours["ph_rc"], gold["ph_rc"]) < 3e-7          # float32 rounding
        assert (ours["ph_rc"] == gold["ph_rc"]).mean() > 0.95      # mostly bit-identical
        np.testing.assert_array_equal(ours["ph_reref"], gold["ph_reref"])


def test_merge_ps_set_and_order_identical(merged):
    g, _, _, out = merged
    gold = load_mat(g / "stamps" / "ps2.mat")
    for v in ("ij", "xy", "lonlat", "n_ps", "ll0", "bperp", "day", "master_ix", "master_day"):
        np.testing.assert_array_equal(out["ps2"][v], gold[v], err_msg=v)
        assert out["ps2"][v].dtype == gold[v].dtype, v
    assert set(out["ps2"]) == set(gold)


@pytest.mark.parametrize("art", ["ph2", "pm2", "bp2", "la2", "hgt2", "inc2"])
def test_merge_copied_arrays_exact(merged, art):
    g, _, _, out = merged
    gold = load_mat(g / "stamps" / f"{art}.mat")
    assert set(out[art]) == set(gold)
    for v in gold:
        assert out[art][v].shape == gold[v].shape and out[art][v].dtype == gold[v].dtype, v
        np.testing.assert_array_equal(out[art][v], gold[v], err_msg=f"{art}.{v}")


def test_merge_rc2_and_ifgstd(merged):
    g, _, _, out = merged
    gold = load_mat(g / "stamps" / "rc2.mat")
    np.testing.assert_array_equal(out["rc2"]["ph_reref"], gold["ph_reref"])
    assert _rel(out["rc2"]["ph_rc"], gold["ph_rc"]) < 3e-7
    gstd = load_mat(g / "stamps" / "ifgstd2.mat")["ifg_std"]
    ours = out["ifgstd2"]["ifg_std"]
    assert ours.shape == gstd.shape and ours.dtype == np.float32
    assert _rel(ours, gstd) < 3e-7
    assert "phuw2" not in out       # no zero phuw2 from a merge of un-unwrapped patches


def test_merge_normalisation_bit_exact_from_golden_patch_rc2():
    g, plist = _patches("multi-2x2")
    out = merge.merge([_load_patch_arrays(g, pn) for pn in plist], golden_params("multi-2x2"))
    np.testing.assert_array_equal(out["rc2"]["ph_rc"], load_mat(g / "stamps" / "rc2.mat")["ph_rc"])


def test_ifgstd_stage_form():
    g = golden_dir("small-1patch")
    inp = {a: load_mat(g / "stamps" / f"{a}.mat") for a in ifgstd.READS}
    ours = ifgstd.run(inp, golden_params("small-1patch"), KS)["ifgstd2"]["ifg_std"]
    assert _rel(ours, load_mat(g / "stamps" / "ifgstd2.mat")["ifg_std"]) < 3e-7


def test_merge_unwrapped_offsets_are_2pi_rounded():
    """Patch phuw2 shifted by per-patch 2*pi multiples merge back to one consistent field."""
    g, plist = _patches("multi-2x2")
    root_ps = load_mat(g / "stamps" / "ps2.mat")
    root_uw = load_mat(g / "stamps" / "phuw2.mat")["ph_uw"].astype(np.float64)
    key = {(int(a), int(r)): i for i, (a, r) in enumerate(root_ps["ij"][:, 1:3])}
    rng = np.random.default_rng(1)
    patches = []
    for k, pn in enumerate(plist):
        p = _load_patch_arrays(g, pn)
        rows = np.array([key[(int(a), int(r))] for a, r in p.arrays["ps2"]["ij"][:, 1:3]])
        shift = 0 if k == 0 else 2 * np.pi * rng.integers(-3, 4, size=root_uw.shape[1])
        p.arrays["phuw2"] = {"ph_uw": (root_uw[rows] + shift + rng.normal(0, 0.05, (rows.size, 1)))
                             .astype(np.float32)}
        patches.append(p)
    # the added noise is < pi per pixel, so the mean overlap difference rounds to the shift
    out = merge.merge(patches, golden_params("multi-2x2"))
    diff = out["phuw2"]["ph_uw"].astype(np.float64) - root_uw
    assert np.abs(diff).max() < 0.5


def test_single_patch_scla_scn_pass_through():
    g, plist = _patches("small-1patch")
    p = _load_patch_arrays(g, plist[0])
    n = p.n_ps()
    p.arrays["scla2"] = {"ph_scla": np.arange(n * 21, dtype=np.float32).reshape(n, 21),
                         "K_ps_uw": np.arange(n, dtype=np.float64)[:, None],
                         "C_ps_uw": np.zeros((n, 1), np.float32), "ph_ramp": np.zeros((0, 0))}
    out = merge.merge([p], golden_params("small-1patch"))
    ij_p = p.arrays["ps2"]["ij"][:, 1:3]
    order = [np.flatnonzero((ij_p == r).all(axis=1))[0] for r in out["ps2"]["ij"][:50, 1:3]]
    np.testing.assert_array_equal(out["scla2"]["K_ps_uw"][:50, 0], np.asarray(order, dtype=float))


def test_empty_patch_skipped_and_all_empty_fails():
    g, plist = _patches("small-1patch")
    p = _load_patch_arrays(g, plist[0])
    empty = merge.PatchArrays("PATCH_0", (1, 1, 1, 1), {}, empty=True)
    out = merge.merge([empty, p], golden_params("small-1patch"))
    np.testing.assert_array_equal(out["ps2"]["ij"], load_mat(g / "stamps" / "ps2.mat")["ij"])
    with pytest.raises(StageError, match="no patch"):
        merge.merge([empty], golden_params("small-1patch"))


def _linked_dataset(g, tmp_path):
    """A dataset root of symlinks: the golden input plus the golden per-patch stage outputs."""
    root = tmp_path / "ds"
    root.mkdir()
    for f in (g / "input").iterdir():
        if f.is_dir() and f.name.startswith("PATCH_"):
            d = root / f.name
            d.mkdir()
            for src in list(f.iterdir()) + list((g / "stamps" / f.name).iterdir()):
                (d / src.name).symlink_to(src)
        else:
            (root / f.name).symlink_to(f)
    return root


def test_collect_patches_from_dataset(tmp_path):
    from pystamps_batch.dataset.layout import open_dataset

    g, plist = _patches("multi-2x2")
    root = _linked_dataset(g, tmp_path)
    pats = merge.collect_patches(open_dataset(root))
    assert [p.name for p in pats] == plist and not any(p.empty for p in pats)
    out = merge.run(pats, golden_params("multi-2x2"), KS)
    np.testing.assert_array_equal(out["ps2"]["ij"], load_mat(g / "stamps" / "ps2.mat")["ij"])
    # a patch flagged in no_ps_info.mat is skipped
    (root / plist[0] / "no_ps_info.mat").unlink()
    from pystamps_batch.io.matfile import save_mat
    save_mat(root / plist[0] / "no_ps_info.mat", {"stamps_step_no_ps": np.array([[0.0], [0], [1], [0], [0]])})
    pats = merge.collect_patches(open_dataset(root))
    assert pats[0].empty and not pats[1].empty
    assert merge.run(pats, golden_params("multi-2x2"), KS)["ps2"]["ij"].shape[0] < out["ps2"]["ij"].shape[0]


def test_missing_patch_file_names_patch_and_file(tmp_path):
    g, plist = _patches("small-1patch")
    d = tmp_path / "PATCH_1"
    d.mkdir()
    for a in merge.PATCH_READS:
        if a != "rc2":
            shutil.copy(g / "stamps" / "PATCH_1" / f"{a}.mat", d)
    shutil.copy(g / "input" / "PATCH_1" / "patch_noover.in", d)
    with pytest.raises(StageError, match=r"PATCH_1.*rc2\.mat"):
        merge.load_patch(d)
    with pytest.raises(StageError, match=r"PATCH_1.*rc2"):
        merge.merge([merge.PatchArrays("PATCH_1", (1, 500, 1, 500),
                                       {a: {"ij": np.zeros((3, 3))} if a == "ps2" else {}
                                        for a in merge.PATCH_READS if a != "rc2"})], {})


def test_matlab_single_helpers():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3000, 5)).astype(np.float32)
    acc = np.zeros(5, np.float32)
    for row in x:
        acc = (acc + row).astype(np.float32)
    np.testing.assert_array_equal(sum_single(np.asfortranarray(x), 0), acc)
    z = (rng.standard_normal(1000) + 1j * rng.standard_normal(1000)).astype(np.complex64)
    exact = np.abs(z.astype(np.complex128)).astype(np.float32)
    np.testing.assert_array_equal(abs_single(z), exact)


@pytest.mark.parametrize("copy_coh,keep_copy", [(-1.0, False), (2.0, True)])
def test_lonlat_duplicates_keep_highest_coherence(copy_coh, keep_copy):
    g, plist = _patches("small-1patch")
    p = _load_patch_arrays(g, plist[0])
    n = p.n_ps()
    for art, vars_ in p.arrays.items():
        for v, a in list(vars_.items()):
            if isinstance(a, np.ndarray) and a.ndim == 2 and a.shape[0] == n and v not in ("ll0",):
                vars_[v] = np.concatenate([a, a[:1]], axis=0)
    p.arrays["ps2"]["ij"][-1, 1:3] = [9999, 9999]        # a different pixel at the same lon/lat
    p.arrays["pm2"]["coh_ps"][-1] = copy_coh
    out = merge.merge([p], golden_params("small-1patch"))
    assert out["ps2"]["ij"].shape[0] == n
    assert ((out["ps2"]["ij"][:, 1:3] == [9999, 9999]).all(axis=1).any()) == keep_copy
