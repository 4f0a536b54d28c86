"""``pystamps prep snap`` (mt_prep_snap without csh/C) on SNAP exports written by the generator:
byte-for-byte reproduction of the generator's dataset, the amplitude statistics against an
independent float64 evaluation of spec A.4, bad exports, --force and atomic publication."""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from pystamps_batch.errors import InputError
from pystamps_batch.prep import cli as prep_cli
from pystamps_batch.prep import snap as prep
from pystamps_batch.synth import generate

W, L = 150, 140
SCENE = dict(width=W, length=L, rg_patches=2, az_patches=2, rg_overlap=12, az_overlap=9, n_cand=1200, n_ifg=5,
             seed=21)
PATCHING = dict(rg_patches=2, az_patches=2, rg_overlap=12, az_overlap=9)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _dataset_files(root: Path) -> dict[str, bytes]:
    """Files a prep writes (everything except the export, truth and parms.mat)."""
    skip = ("rslc/", "diff0/", "geo/")
    return {k: v for k, v in _files(root).items()
            if not k.startswith(skip) and k not in ("truth.npz", "truth.json", "parms.mat")}


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A generated snap dataset with its export rasters (the export is the dataset root itself)."""
    root = tmp_path_factory.mktemp("exp") / "export"
    s = generate(root, flavour="snap", write_export=True, **SCENE)
    return root, s


def _copy_export(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("PATCH_*", "patch.list"))
    return dest


def test_reproduces_generator_byte_for_byte(export, tmp_path):
    root, s = export
    out = tmp_path / "ds"
    d = prep.prep_snap(root, out, **PATCHING)
    assert d["patches"] == s["patch_counts"] and d["master"] == s["master"] and d["n_ifg"] == 5
    want, got = _dataset_files(root), _dataset_files(out)
    assert got.keys() == want.keys()
    for k in want:
        assert got[k] == want[k], k
    from pystamps_batch.io.matfile import load_mat

    assert load_mat(out / "parms.mat")["insar_processor"].ravel()[0] == "snap"
    # the prepared root is a valid snap dataset whose stage 1 runs
    from pystamps_batch.dataset.layout import open_dataset
    from pystamps_batch.stages import load_gamma

    ds = open_dataset(out, strict=True)
    o = load_gamma.run(ds, ds.patches[0], None)
    assert o["ps1"]["n_ps"][0, 0] == s["patch_counts"]["PATCH_1"]


def test_streaming_blocks_do_not_change_bytes(export, tmp_path):
    root, _ = export
    out = tmp_path / "ds"
    prep.prep_snap(root, out, block_mb=0.02, **PATCHING)          # a few lines per block
    assert _dataset_files(out) == _dataset_files(root)


def test_amplitude_statistics_follow_spec(export, tmp_path):
    """calamp / selpsc_patch / pscphase of spec A.4, evaluated independently in float64."""
    root, s = export
    out = tmp_path / "ds"
    prep.prep_snap(root, out, **PATCHING)
    cal_lines = [ln.split() for ln in (out / "calamp.out").read_text().splitlines()]
    slcs = [np.fromfile(p, ">c8").reshape(L, W) for p, _ in cal_lines]
    cal = np.array([float(c) for _, c in cal_lines])
    amp = [np.abs(x.astype(np.complex128)) for x in slcs]
    np.testing.assert_allclose([a[a > 0.001].mean() for a in amp], cal, rtol=2e-6)
    a = np.stack([x / c for x, c in zip(amp, cal)], axis=-1)
    D = np.sqrt(a.shape[-1] * (a * a).sum(-1) / a.sum(-1) ** 2 - 1)
    diffs = [ln.strip() for ln in (out / "pscphase.in").read_text().splitlines()[1:]]
    for name in s["patch_counts"]:
        p = out / name
        r0, r1, a0, a1 = (int(v) for v in (p / "patch.in").read_text().split())
        win = np.zeros((L, W), dtype=bool)
        win[a0 - 1:a1, r0 - 1:r1] = True
        az, rg = np.nonzero((D < 0.4) & win)
        ij = np.loadtxt(p / "pscands.1.ij", dtype=np.int64, ndmin=2)
        np.testing.assert_array_equal(ij, np.stack([np.arange(1, az.size + 1), az, rg], 1))
        np.testing.assert_array_equal(np.fromfile(p / "pscands.1.ij.int", ">i4").reshape(-1, 2), np.stack([rg, az], 1))
        np.testing.assert_allclose(np.loadtxt(p / "pscands.1.da"), D[az, rg], rtol=1e-5)
        mean_amp = np.fromfile(p / "mean_amp.flt", "<f4").reshape(a1 - a0 + 1, r1 - r0 + 1)
        np.testing.assert_allclose(mean_amp, a.sum(-1)[a0 - 1:a1, r0 - 1:r1], rtol=1e-5)
        ph = np.fromfile(p / "pscands.1.ph", ">c8").reshape(len(diffs), -1).T
        for j, d in enumerate(diffs):
            assert np.array_equal(ph[:, j], np.fromfile(d, ">c8").reshape(L, W)[az, rg])
        ll = np.fromfile(p / "pscands.1.ll", ">f4").reshape(-1, 2)
        lon = np.fromfile(root / "geo" / f"{s['master']}.lon", ">f4").reshape(L, W)
        assert np.array_equal(ll[:, 0], lon[az, rg])
        assert (p / "pscands.1.ij0").read_bytes() == b""


def test_zero_amplitude_pixels_go_to_ij0(export, tmp_path):
    """A zero amplitude in the first SLC: selpsc resets the sum (not the sum of squares) and
    lists the pixel in pscands.1.ij0 under the id of the last candidate before it."""
    root, s = export
    exp = _copy_export(root, tmp_path / "exp")
    ij = np.loadtxt(root / "PATCH_1" / "pscands.1.ij", dtype=np.int64, ndmin=2)
    _, az, rg = ij[3]
    cal = [float(ln.split()[1]) for ln in (root / "calamp.out").read_text().splitlines()]
    for k, date in enumerate(s["dates"]):                 # calibrated amplitude 1 in every image ...
        f = exp / "rslc" / f"{date}.rslc"
        x = np.fromfile(f, ">c8").reshape(L, W)
        x[az, rg] = 0 if k == 0 else cal[k]              # ... but 0 in the first
        x.tofile(f)
    out = tmp_path / "ds"
    prep.prep_snap(exp, out, da_thresh="0.5", **PATCHING)     # D^2 = 6 * 5 / 5^2 - 1 = 0.2 < 0.25
    new = np.loadtxt(out / "PATCH_1" / "pscands.1.ij", dtype=np.int64, ndmin=2)
    assert not np.any((new[:, 1] == az) & (new[:, 2] == rg))
    before = int(np.sum(new[:, 1] * W + new[:, 2] < az * W + rg))
    assert (out / "PATCH_1" / "pscands.1.ij0").read_text() == f"{before} {az} {rg}\n"
    assert (out / "selpsc.in").read_text().startswith("0.5\n150\n")


def test_selpsc_kernel_semantics():
    from pystamps_batch.prep.ampstats import selected, selpsc_block

    cal = np.array([2.0, 4.0, 1.0], dtype=np.float32)
    a = np.array([[[1.0, 1.0, 0.0, 1.0]], [[1.0, 3.0, 1.0, 1e-5]], [[1.0, 1.0, 1.0, 1.0]]])   # calibrated
    z = (a * cal[:, None, None]).astype(np.complex64) * np.complex64(np.exp(0.3j))
    sumamp, d_sq, amp0 = selpsc_block(z, cal)
    np.testing.assert_allclose(sumamp.ravel(), [3.0, 5.0, 2.0, 1.0], rtol=1e-6)        # reset at the zero
    np.testing.assert_allclose(d_sq.ravel()[:3], [0.0, 3 * 11 / 25 - 1, 3 * 2 / 4 - 1], rtol=1e-5, atol=1e-6)
    assert amp0.ravel().tolist() == [False, False, True, True]
    cand, zero = selected(sumamp, d_sq, amp0, np.float32(0.75))
    assert cand.ravel().tolist() == [True, True, False, False] and zero.ravel().tolist() == [False, False, True, False]
    cand, _ = selected(sumamp, d_sq, amp0, np.float32(-0.5))                      # negative: D_A >= 0.5
    assert cand.ravel().tolist() == [False, True, False, False]


@pytest.mark.parametrize("case", ["par", "base", "size", "single", "lon"])
def test_bad_exports(export, tmp_path, case):
    root, s = export
    exp = _copy_export(root, tmp_path / "exp")
    m = s["master"]
    diffs = sorted((exp / "diff0").glob("*.diff"))
    if case == "par":
        bad = exp / "rslc" / f"{m}.rslc.par"
        bad.unlink()
    elif case == "base":
        bad = diffs[2].with_suffix(".base")
        bad.unlink()
    elif case == "size":
        bad = exp / "rslc" / f"{s['dates'][1]}.rslc"
        with open(bad, "r+b") as fh:
            fh.truncate(W * (L - 1) * 8)
    elif case == "single":
        for d in diffs[1:]:
            d.unlink()
            d.with_suffix(".base").unlink()
        bad = diffs[0]
    else:
        bad = exp / "geo" / "*.lon"
        (exp / "geo" / f"{m}.lon").unlink()
    out = tmp_path / "ds"
    with pytest.raises(InputError) as e:
        prep.prep_snap(exp, out, **PATCHING)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(str(bad)), msg
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".ds.prep")]


def test_force_and_atomic_publication(export, tmp_path, monkeypatch):
    root, _ = export
    out = tmp_path / "ds"
    prep.prep_snap(root, out, **PATCHING)
    (out / "notes.txt").write_text("mine")
    (out / "PATCH_9").mkdir()
    (out / "ps2.mat").write_bytes(b"stale")
    before = _files(out)
    with pytest.raises(InputError, match="already holds a prepared dataset.*--force"):
        prep.prep_snap(root, out, **PATCHING)
    # a failure while building leaves the existing dataset untouched and no temporary folder
    monkeypatch.setattr(prep, "extract", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        prep.prep_snap(root, out, force=True, **PATCHING)
    assert _files(out) == before and (out / "PATCH_9").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    monkeypatch.undo()
    # --force replaces the dataset (and stale results), keeps other files
    prep.prep_snap(root, out, force=True, rg_patches=1, az_patches=1)
    assert not (out / "PATCH_9").exists() and not (out / "PATCH_2").exists() and not (out / "ps2.mat").exists()
    assert (out / "notes.txt").read_text() == "mine" and (out / "patch.list").read_text() == "PATCH_1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    # a fresh destination appears complete or not at all
    out2 = tmp_path / "fresh"
    monkeypatch.setattr(prep, "extract", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        prep.prep_snap(root, out2, **PATCHING)
    assert not out2.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_prep_into_the_export_folder(export, tmp_path):
    """As users often run mt_prep_snap inside the export: the rasters stay, the dataset appears."""
    root, _ = export
    exp = _copy_export(root, tmp_path / "exp")
    prep.prep_snap(exp, exp, **PATCHING)
    got = {k: v for k, v in _dataset_files(exp).items()}
    want = {k: v.replace(str(root).encode(), str(exp).encode()) for k, v in _dataset_files(root).items()}
    assert got == want


def test_cli_pieces(export, tmp_path, capsys):
    root, s = export
    parser = argparse.ArgumentParser(prog="pystamps")
    sub = parser.add_subparsers(dest="command")
    prep_cli.add_arguments(sub.add_parser("prep"))
    args = parser.parse_args(["prep", "snap", "--export", str(root), "--out", str(tmp_path / "ds"),
                              "--master-date", s["master"], "--da-thresh", "0.4", "--rg-patches", "2",
                              "--az-patches", "2", "--rg-overlap", "12", "--az-overlap", "9", "--json"])
    assert prep_cli.run(args) == 0
    assert '"candidates"' in capsys.readouterr().out
    assert _dataset_files(tmp_path / "ds") == _dataset_files(root)
    args = parser.parse_args(["prep", "snap", "--export", str(root), "--out", str(tmp_path / "ds2"),
                              "--master-date", "20000101"])
    with pytest.raises(InputError, match="not of the master date 20000101"):
        prep_cli.run(args)
    assert not os.path.exists(tmp_path / "ds2")


def test_prep_into_an_empty_existing_folder(export, tmp_path):
    root, _ = export
    out = tmp_path / "work"
    out.mkdir()
    ino = out.stat().st_ino                      # the folder itself is kept (it may be the user's cwd)
    prep.prep_snap(root, out, **PATCHING)
    assert out.stat().st_ino == ino and _dataset_files(out) == _dataset_files(root)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
