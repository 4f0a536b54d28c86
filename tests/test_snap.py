"""SNAP / GAMMA flavour: flavour detection, recorded-path relocation, the ps_load_initial_gamma
loader against StaMPS' own stage-1 outputs (snap-1patch golden), its defect fixes (null
interferogram, latest master, NaN rows), and the generator's snap flavour round trip."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from golden import golden_dir
from pystamps_batch.dataset import snap as snapfmt
from pystamps_batch.dataset.layout import open_dataset, read_flavour
from pystamps_batch.errors import InputError
from pystamps_batch.io.matfile import load_mat
from pystamps_batch.stages import load, load_gamma

STAGE1 = ("ps1", "ph1", "bp1", "la1", "da1", "hgt1")


def _copy_input(name: str, dest: Path) -> Path:
    shutil.copytree(golden_dir(name) / "input", dest)
    for p in dest.rglob("*"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest


def _gold_stage1(name: str) -> dict:
    g = golden_dir(name) / "stamps" / "PATCH_1"
    return {a: load_mat(g / f"{a}.mat") for a in STAGE1}


def _assert_equal_artifacts(out: dict, gold: dict) -> None:
    for art, variables in out.items():
        assert set(variables) == set(gold[art]), (art, set(variables) ^ set(gold[art]))
        for k, v in variables.items():
            gv = gold[art][k]
            assert v.shape == gv.shape and v.dtype == gv.dtype, (art, k, v.shape, gv.shape, v.dtype, gv.dtype)
            assert np.array_equal(v, gv, equal_nan=True), (art, k, np.nanmax(np.abs(v - gv)))


@pytest.fixture(scope="module")
def snap_copy(tmp_path_factory):
    """A copy of the snap-1patch input (its recorded paths /data/stamps/... do not exist here)."""
    return _copy_input("snap-1patch", tmp_path_factory.mktemp("snap") / "ds")


# ------------------------------------------------------------------------------------------
# the golden: stage 1 bit for bit, through relocated paths
# ------------------------------------------------------------------------------------------
def test_stage1_equals_stamps_with_relocation(snap_copy):
    msgs: list[str] = []
    ds = open_dataset(snap_copy, strict=True)
    assert ds.flavour == "snap" and ds.master_day == "20190325" and ds.n_ifg == 20
    out = load_gamma.run(ds, ds.patches[0], None, log=msgs.append)
    _assert_equal_artifacts(out, _gold_stage1("snap-1patch"))
    reloc = [m for m in msgs if "resolved relative to the dataset root" in m]
    assert len(reloc) == 1 and "/data/stamps/snap-1patch" in reloc[0] and str(snap_copy) in reloc[0]
    load_gamma.run(ds, ds.patches[0], None, log=msgs.append)          # said once per process
    assert len([m for m in msgs if "resolved relative" in m]) == 1


def test_runner_dispatch_and_params(snap_copy):
    from pystamps_batch.kernels.registry import KernelSet
    from pystamps_batch.parameters_io import load_params
    from pystamps_batch.stage_io import EXECUTORS, UnitContext

    ds = open_dataset(snap_copy)
    params = load_params(ds.root, ds.patches[0].path)
    gold = load_mat(golden_dir("snap-1patch") / "stamps" / "parms.mat")
    assert params["lambda"] == float(gold["lambda"].ravel()[0])          # 299792458 / radar_frequency
    assert params["heading"] == float(gold["heading"].ravel()[0])
    assert params["platform"] == "S1A" and params["insar_processor"] == "snap"
    ctx = UnitContext(ds, ds.patches[0].path, params, KernelSet.python(), patch=ds.patches[0])
    out = EXECUTORS["1"](ctx)
    assert "mean_incidence" in out["ps1"] and "calconst" not in out["ps1"]


def test_missing_recorded_file_is_one_line_error(tmp_path):
    root = _copy_input("snap-1patch", tmp_path / "ds")
    (root / "diff0" / "20190325_20180704.base").unlink()
    ds = open_dataset(root)
    with pytest.raises(InputError) as e:
        ds.validate()
    msg = str(e.value)
    assert "\n" not in msg and "/data/stamps/snap-1patch/diff0/20190325_20180704.base does not exist" in msg
    assert str(root / "diff0" / "20190325_20180704.base") in msg and msg.startswith(str(root / "pscphase.in"))
    (root / "rslc" / "20190325.rslc.par").unlink()
    with pytest.raises(InputError, match=r"rsc.txt: master parameter file .*20190325.rslc.par does not exist"):
        open_dataset(root).validate()


def test_flavour_detection_and_status(tmp_path, snap_copy):
    from pystamps_batch.status import collect_status, format_status

    d = tmp_path / "f"
    d.mkdir()
    assert read_flavour(d) == "doris"                      # StaMPS' default without processor.txt
    for text, want in (("snap\n", "snap"), ("gamma", "gamma"), ("DORIS\n", "doris"), ("", "doris")):
        (d / "processor.txt").write_text(text)
        assert read_flavour(d) == want
    (d / "processor.txt").write_text("isce\n")
    with pytest.raises(InputError, match="unknown processor 'isce'"):
        read_flavour(d)
    st = collect_status(open_dataset(snap_copy))
    assert st["flavour"] == "snap" and st["master_day"] == "20190325" and st["n_ifg"] == 20
    assert "flavour  snap" in format_status(st)


def test_readparm_prefix_must_be_unique(tmp_path):
    f = tmp_path / "x.par"
    f.write_text("range_pixel_spacing:  9.4  m\nrange_samples: 500\nprf: 486.0 Hz\n")
    assert snapfmt.readparm_numbers(f, "range_pixel_spacing")[0] == 9.4
    assert snapfmt.readparm_numbers(f, "prf")[0] == 486.0
    with pytest.raises(InputError, match="'range_' matches 2 entries"):
        snapfmt.readparm(f, "range_")
    with pytest.raises(InputError, match="no 'heading:' entry"):
        snapfmt.readparm(f, "heading:")


def test_pscphase_dates_must_ascend(tmp_path):
    root = _copy_input("snap-1patch", tmp_path / "ds")
    lines = (root / "pscphase.in").read_text().splitlines()
    lines[2], lines[3] = lines[3], lines[2]
    (root / "pscphase.in").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="pscphase.in: line 4: date 20180222 does not follow 20180411"):
        open_dataset(root)


# ------------------------------------------------------------------------------------------
# StaMPS defects fixed: null ifg listed, master = latest date, NaN rows
# ------------------------------------------------------------------------------------------
def _ph_blocks(root: Path, n: int) -> np.ndarray:
    return np.fromfile(root / "PATCH_1" / "pscands.1.ph", ">c8").reshape(-1, n)


def test_null_ifg_is_dropped(tmp_path):
    root = _copy_input("snap-1patch", tmp_path / "ds")
    n = 8000
    lines = (root / "pscphase.in").read_text().splitlines()
    null = lines[1][:-13] + "20190325.diff"                       # .../20190325_20190325.diff
    lines.insert(11, null)                                         # ascending: master between 20190217 and 20190430
    (root / "pscphase.in").write_text("\n".join(lines) + "\n")
    blocks = _ph_blocks(root, n)
    np.insert(blocks, 10, np.full(n, 1 + 0j, dtype=">c8"), axis=0).astype(">c8").tofile(
        root / "PATCH_1" / "pscands.1.ph")
    msgs: list[str] = []
    ds = open_dataset(root, strict=True)
    assert ds.n_ifg == 20 and ds.n_ph_blocks == 21
    out = load_gamma.run(ds, ds.patches[0], None, log=msgs.append)
    _assert_equal_artifacts(out, _gold_stage1("snap-1patch"))
    assert any("null interferogram" in m for m in msgs)


def test_latest_master_is_appended(tmp_path):
    root = _copy_input("snap-1patch", tmp_path / "ds")
    n = 8000
    lines = (root / "pscphase.in").read_text().splitlines()
    (root / "pscphase.in").write_text("\n".join(lines[:11]) + "\n")      # only slaves before 20190325
    _ph_blocks(root, n)[:10].tofile(root / "PATCH_1" / "pscands.1.ph")
    ds = open_dataset(root, strict=True)
    out = load_gamma.run(ds, ds.patches[0], None)
    gold = _gold_stage1("snap-1patch")
    ps1 = out["ps1"]
    assert ps1["master_ix"][0, 0] == 11 and ps1["n_ifg"][0, 0] == 11
    np.testing.assert_array_equal(ps1["day"], gold["ps1"]["day"][:11])
    assert ps1["bperp"][-1, 0] == 0 and np.all(out["ph1"]["ph"][:, -1] == 1)
    np.testing.assert_array_equal(out["ph1"]["ph"][:, :10], gold["ph1"]["ph"][:, :10])
    np.testing.assert_array_equal(out["bp1"]["bperp_mat"], gold["bp1"]["bperp_mat"][:, :10])


def test_nan_rows_are_dropped(tmp_path):
    root = _copy_input("snap-1patch", tmp_path / "ds")
    n = 8000
    ll = np.fromfile(root / "PATCH_1" / "pscands.1.ll", ">f4").reshape(n, 2)
    centre = np.argmin(np.abs(ll - np.median(ll, axis=0)).sum(axis=1))   # not on the bounding box
    ll[centre, 1] = np.nan
    ll.tofile(root / "PATCH_1" / "pscands.1.ll")
    blocks = _ph_blocks(root, n)
    blocks[7, 1234] = complex(np.nan, 0)
    blocks.tofile(root / "PATCH_1" / "pscands.1.ph")
    ds = open_dataset(root, strict=True)
    msgs: list[str] = []
    out = load_gamma.run(ds, ds.patches[0], None, log=msgs.append)
    gold = _gold_stage1("snap-1patch")
    gij = gold["ps1"]["ij"]
    ij_file = np.loadtxt(root / "PATCH_1" / "pscands.1.ij")
    dropped = {tuple(ij_file[centre, 1:]), tuple(ij_file[1234, 1:])}
    keep = np.array([tuple(r) not in dropped for r in gij[:, 1:]])
    assert keep.sum() == n - 2 and any("dropped 2 candidate(s)" in m for m in msgs)
    ps1 = out["ps1"]
    assert ps1["n_ps"][0, 0] == n - 2 and ps1["sort_ix"].shape == (n, 1)     # sort_ix not updated (StaMPS)
    gsort = gold["ps1"]["sort_ix"].ravel()
    want = np.append(gsort[gsort != centre + 1], centre + 1)                  # NaN coordinates sort last
    np.testing.assert_array_equal(ps1["sort_ix"].ravel(), want)
    np.testing.assert_array_equal(ps1["ij"][:, 0], np.arange(1, n - 1))
    np.testing.assert_array_equal(ps1["xy"][:, 0], np.arange(1, n - 1, dtype=np.float32))
    np.testing.assert_array_equal(ps1["ij"][:, 1:], gij[keep, 1:])
    np.testing.assert_array_equal(ps1["xy"][:, 1:], gold["ps1"]["xy"][keep, 1:])
    for art, var in (("ph1", "ph"), ("bp1", "bperp_mat"), ("la1", "la"), ("da1", "D_A"), ("hgt1", "hgt")):
        np.testing.assert_array_equal(out[art][var], gold[art][var][keep], err_msg=art)


# ------------------------------------------------------------------------------------------
# the generator's snap flavour: same scene as the DORIS flavour
# ------------------------------------------------------------------------------------------
def test_generator_snap_round_trip(tmp_path):
    from pystamps_batch.synth import generate

    kw = dict(width=200, length=180, n_cand=1500, n_ifg=8, seed=5)
    generate(tmp_path / "d", **kw)
    s = generate(tmp_path / "s", flavour="snap", **kw)
    assert s["flavour"] == "snap"
    root = tmp_path / "s"
    assert (root / "processor.txt").read_text() == "snap\n"
    assert not (root / "day.1.in").exists() and not (root / "lambda.1.in").exists()
    assert load_mat(root / "parms.mat")["insar_processor"].ravel()[0] == "snap"
    rsc = (root / "rsc.txt").read_text().strip()
    assert rsc == f"{root}/rslc/{s['master']}.rslc.par" and Path(rsc).is_file()
    dd, ds = open_dataset(tmp_path / "d", strict=True), open_dataset(root, strict=True)
    assert ds.flavour == "snap" and ds.slave_days == dd.slave_days and ds.master_day == dd.master_day
    msgs: list[str] = []
    a = load.run(dd, dd.patches[0], None)
    b = load_gamma.run(ds, ds.patches[0], None, log=msgs.append)
    assert not any("resolved relative" in m for m in msgs)          # recorded paths exist
    for k in ("ij", "lonlat", "xy", "day", "master_day", "master_ix", "n_ifg", "sort_ix", "ll0"):
        np.testing.assert_array_equal(a["ps1"][k], b["ps1"][k], err_msg=k)
    for art, var in (("da1", "D_A"), ("hgt1", "hgt")):
        np.testing.assert_array_equal(a[art][var], b[art][var])
    # the same interferograms, big-endian and uncalibrated (the DORIS loader divides by calconst)
    m = int(a["ps1"]["master_ix"][0, 0]) - 1
    cal = a["ps1"]["calconst"].ravel().astype(np.float32)
    pa, pb = np.delete(a["ph1"]["ph"], m, 1), np.delete(b["ph1"]["ph"], m, 1)
    np.testing.assert_allclose(pb.real / cal, pa.real, rtol=1e-6, atol=1e-6 * np.abs(pa).max())
    np.testing.assert_allclose(pb.imag / cal, pa.imag, rtol=1e-6, atol=1e-6 * np.abs(pa).max())
    # geometry from the .rslc.par / .base files: baselines and incidence as the truth (at h = 0)
    t = np.load(root / "truth.npz")
    rows = np.searchsorted(t["az"] * 10**6 + t["rg"], b["ps1"]["ij"][:, 1] * 10**6 + b["ps1"]["ij"][:, 2])
    bp_true = np.delete(t["bperp_pix"][rows], int(t["master_index"]), 1)
    assert np.abs(b["bp1"]["bperp_mat"] - bp_true).max() < 0.1                        # m (height ignored)
    assert np.abs(b["la1"]["la"].ravel() - t["incidence_rad"][rows]).max() < 1e-3     # rad
    np.testing.assert_allclose(b["ps1"]["bperp"].ravel(), t["bperp_centre"], atol=0.05)


def test_generator_relocated_dataset(tmp_path):
    from pystamps_batch.synth import generate

    generate(tmp_path / "a", flavour="snap", width=120, length=110, n_cand=600, n_ifg=4, seed=2)
    shutil.move(tmp_path / "a", tmp_path / "b")
    ds = open_dataset(tmp_path / "b", strict=True)
    msgs: list[str] = []
    out = load_gamma.run(ds, ds.patches[0], None, log=msgs.append)
    assert out["ps1"]["n_ps"][0, 0] == 600
    assert [m for m in msgs if "resolved relative" in m] and str(tmp_path / "a") in msgs[0]


def test_generator_flavour_arguments(tmp_path):
    from pystamps_batch.synth import generate

    for kw, words in ((dict(flavour="isce"), "flavour"), (dict(write_export=True), "write_export"),
                      (dict(flavour="snap", write_raw=True), "write_raw")):
        with pytest.raises(ValueError, match=words):
            generate(tmp_path / "x", width=100, length=100, n_cand=100, n_ifg=3, **kw)
        assert not (tmp_path / "x").exists()
