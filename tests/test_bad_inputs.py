"""The bad-input corpus: each case gets one specific line and a defined exit status.

Exit 2 (nothing written) for inputs that can be checked before any stage runs;
exit 1 with the failing patch named (nothing written for that patch, other patches
go on) for problems only visible while a stage runs (NaN/Inf phases, a patch too
small for the filter grid). Some inputs are valid in StaMPS and handled: unsorted
dates (DORIS sorts them), an empty patch (skipped, like StaMPS' no-PS patches).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, SINGLE, synth_dataset
from pystamps_batch.io.matfile import load_mat

PY = [sys.executable, "-m", "pystamps_batch.cli"]


def run(*args):
    return subprocess.run([*PY, *map(str, args)], capture_output=True, text=True)


def snapshot(root: Path):
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


def one_line(r, code, *needles):
    assert r.returncode == code, (r.returncode, r.stderr[-800:])
    lines = [ln for ln in r.stderr.strip().splitlines() if not ln.startswith("[")]
    assert "Traceback" not in r.stderr
    if code == 2:
        assert len(lines) == 1, r.stderr
        for n in needles:
            assert n in lines[0], lines[0]


@pytest.fixture()
def single(tmp_path_factory, tmp_path):
    return synth_dataset(tmp_path_factory, tmp_path / "ds", **SINGLE)


@pytest.fixture()
def multi(tmp_path_factory, tmp_path):
    return synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)


def _ph_blocks(d: Path, patch="PATCH_1"):
    n = sum(1 for ln in (d / patch / "pscands.1.ij").read_text().splitlines() if ln.strip())
    m = len((d / "day.1.in").read_text().split())
    return np.fromfile(d / patch / "pscands.1.ph", "<c8").reshape(m, n)


@pytest.mark.parametrize("edit, needles", [
    ("oversized_ph", ["pscands.1.ph", "bytes, expected"]),
    ("ij_duplicate", ["pscands.1.ij", "listed more than once"]),
    ("ij_outside_image", ["pscands.1.ij", "outside the"]),
    ("ij_not_numeric", ["pscands.1.ij", "is not a number"]),
    ("master_in_day_list", ["day.1.in", "master date"]),
    ("ph_is_a_directory", ["pscands.1.ph", "file not found"]),
    ("ll_truncated", ["pscands.1.ll", "bytes, expected"]),
])
def test_rejected_before_anything_runs(single, edit, needles):
    p = single / "PATCH_1"
    if edit == "oversized_ph":
        with open(p / "pscands.1.ph", "ab") as fh:
            fh.write(b"\0" * 8)
    elif edit == "ij_duplicate":
        lines = (p / "pscands.1.ij").read_text().splitlines()
        a = lines[10].split()
        lines[11] = f"{lines[11].split()[0]} {a[1]} {a[2]}"
        (p / "pscands.1.ij").write_text("\n".join(lines) + "\n")
    elif edit == "ij_outside_image":
        lines = (p / "pscands.1.ij").read_text().splitlines()
        i, az, rg = lines[-1].split()
        lines[-1] = f"{i} {az} 99999"
        (p / "pscands.1.ij").write_text("\n".join(lines) + "\n")
    elif edit == "ij_not_numeric":
        lines = (p / "pscands.1.ij").read_text().splitlines()
        lines[3] = "4 x 7"
        (p / "pscands.1.ij").write_text("\n".join(lines) + "\n")
    elif edit == "master_in_day_list":
        days = (single / "day.1.in").read_text().split()
        master = (single / "master_day.1.in").read_text().split()[0]
        (single / "day.1.in").write_text("\n".join(days[:-1] + [master]) + "\n")
    elif edit == "ph_is_a_directory":
        (p / "pscands.1.ph").unlink()
        (p / "pscands.1.ph").mkdir()
    elif edit == "ll_truncated":
        b = (p / "pscands.1.ll").read_bytes()
        (p / "pscands.1.ll").write_bytes(b[:-3])
    before = snapshot(single)
    one_line(run("run", "--dataset", single, "--start-step", "1", "--end-step", "2"), 2, *needles)
    assert snapshot(single) == before


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_phase_fails_that_patch_only(multi, bad):
    ph = _ph_blocks(multi, "PATCH_3").copy()
    ph[2, 7] = bad
    ph.tofile(multi / "PATCH_3" / "pscands.1.ph")
    r = run("run", "--dataset", multi, "--start-step", "1", "--end-step", "2", "--json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    units = {(u["target"], u["stage"]): u for u in json.loads(r.stdout)}
    assert units[("PATCH_3", 1)]["status"] == "failed"
    assert "pscands.1.ph" in units[("PATCH_3", 1)]["details"]["error"]
    assert units[("PATCH_3", 2)]["status"] == "blocked"
    assert all(units[(p, 2)]["status"] == "completed" for p in ("PATCH_1", "PATCH_2", "PATCH_4"))
    assert not list((multi / "PATCH_3").glob("*.mat"))


def test_unsorted_dates_are_sorted_as_stamps_does(single, tmp_path):
    """DORIS' loader sorts day.1.in (with bperp.1.in and the .ph blocks): same result."""
    ref = tmp_path / "ref"
    shutil.copytree(single, ref)
    order = np.random.default_rng(0).permutation(len((single / "day.1.in").read_text().split()))
    days = np.array((single / "day.1.in").read_text().split())[order]
    bp = np.array((single / "bperp.1.in").read_text().split())[order]
    (single / "day.1.in").write_text("\n".join(days) + "\n")
    (single / "bperp.1.in").write_text("\n".join(bp) + "\n")
    _ph_blocks(single)[order].tofile(single / "PATCH_1" / "pscands.1.ph")
    for d in (ref, single):
        assert run("run", "--dataset", d, "--start-step", "1", "--end-step", "1").returncode == 0
    for art in ("ps1", "ph1", "bp1"):
        a, b = load_mat(ref / "PATCH_1" / f"{art}.mat"), load_mat(single / "PATCH_1" / f"{art}.mat")
        for k in a:
            if k != "day_ix":
                np.testing.assert_array_equal(a[k], b[k], err_msg=f"{art}.{k}")


def test_empty_patch_is_skipped_and_the_merge_goes_on(multi):
    p = multi / "PATCH_2"
    for f in ("pscands.1.ij", "pscands.1.da"):
        (p / f).write_text("")
    for f in ("pscands.1.ph", "pscands.1.ll", "pscands.1.hgt"):
        (p / f).write_bytes(b"")
    r = run("run", "--dataset", multi, "--start-step", "1", "--end-step", "5", "--json")
    assert r.returncode == 0, r.stderr[-1500:]
    units = json.loads(r.stdout)
    assert {u["status"] for u in units if u["target"] == "PATCH_2"} == {"skipped_no_ps"}
    merged = [u for u in units if u["scope"] == "merged"]
    assert merged and merged[0]["status"] == "completed"


def test_patch_too_small_for_the_filter_grid(tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "tiny", width=60, length=60, n_cand=300, n_ifg=6, seed=2)
    r = run("run", "--dataset", d, "--start-step", "1", "--end-step", "2", "--json")
    assert r.returncode == 1
    u = [u for u in json.loads(r.stdout) if u["stage"] == 2][0]
    assert u["status"] == "failed" and "at least 24 x 24" in u["details"]["error"]


def test_path_with_spaces_and_unicode(tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "my data ünï €" / "ds", **SINGLE)
    r = run("run", "--dataset", d, "--start-step", "1", "--end-step", "2")
    assert r.returncode == 0, r.stderr[-1000:]
    assert (d / "PATCH_1" / "pm1.mat").is_file()


def test_second_run_is_refused_while_one_holds_the_lock(single):
    from pystamps_batch.dataset.layout import open_dataset
    from pystamps_batch.lock import locked

    with locked(open_dataset(single)):
        r = run("run", "--dataset", single, "--start-step", "1", "--end-step", "1")
    one_line(r, 2, "holds the lock", f"pid {os.getpid()}")
    # a stale lock (dead pid on this host) is taken over with a warning
    lock = single / ".pystamps" / "lock"
    import socket

    lock.write_text(json.dumps({"pid": 2**22 + 12345, "host": socket.gethostname(), "started": 0}))
    r = run("run", "--dataset", single, "--start-step", "1", "--end-step", "1")
    assert r.returncode == 0 and "taking over a stale lock" in r.stderr


def test_read_only_dataset(single, tmp_path):
    """Refused with one line (needs a read-only mount; skipped where mounting is not allowed)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    m = subprocess.run(["mount", "--bind", "-o", "ro", str(single), str(ro)], capture_output=True)
    if m.returncode != 0:
        pytest.skip("cannot make a read-only bind mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(ro)], capture_output=True)
        r = run("run", "--dataset", ro, "--start-step", "1", "--end-step", "1")
        one_line(r, 2, "writable")
    finally:
        subprocess.run(["umount", str(ro)], capture_output=True)
