"""The pystamps command: help, status, dry-run plan, and the bad-input error paths.

Bad input gives exactly one line on stderr naming the file and the problem, exit
status 2, and writes nothing into the dataset.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, synth_dataset

PYSTAMPS = [sys.executable, "-m", "pystamps_batch.cli"]


def run(*args, cwd=None):
    return subprocess.run([*PYSTAMPS, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))


def snapshot(root: Path) -> dict[str, float]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*")}


@pytest.fixture()
def ds(tmp_path_factory, tmp_path):
    return synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)


@pytest.mark.parametrize("cmd", [[], ["status"], ["run"], ["verify"], ["score"], ["describe-backends"],
                                 ["synth"], ["demo"], ["export"], ["plot"], ["prep"], ["bench"]])
def test_help_everywhere(cmd):
    r = run(*cmd, "--help")
    assert r.returncode == 0 and "usage: pystamps" in r.stdout


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("pystamps ")


def test_status_on_generated_dataset(ds):
    r = run("status", "--dataset", ds, "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    truth = json.loads((ds / "truth.json").read_text())
    counts = {p["name"]: p["n_cand"] for p in truth["patches"]} if "n_cand" in truth["patches"][0] else None
    assert [p["patch"] for p in st["patches"]] == ["PATCH_1", "PATCH_2", "PATCH_3", "PATCH_4"]
    for p in st["patches"]:
        n = sum(1 for line in (ds / p["patch"] / "pscands.1.ij").read_text().splitlines() if line.strip())
        assert p["candidates"] == n and p["stage"] == 0
        if counts:
            assert counts[p["patch"]] == n
    assert st["n_ifg"] == MULTI["n_ifg"] and st["merged"]["stage"] == 0


def test_status_on_golden_datasets():
    from golden import golden_dir

    for name, counts in (("small-1patch", [8000]), ("multi-2x2", [4348, 4025, 4697, 3557])):
        g = golden_dir(name)
        st = json.loads(run("status", "--dataset", g / "input", "--json").stdout)
        assert [p["candidates"] for p in st["patches"]] == counts
        out = json.loads(run("status", "--dataset", g / "stamps", "--json").stdout)
        assert all(p["stage"] == 5 for p in out["patches"]) and out["merged"]["stage"] == 8


def test_dry_run_plans_and_writes_nothing(ds):
    before = snapshot(ds)
    r = run("run", "--dataset", ds, "--start-step", "1", "--end-step", "8", "--dry-run", "--json")
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    assert snapshot(ds) == before
    assert len(plan) == 4 * 5 + 4
    assert {u["status"] for u in plan} == {"planned"}
    first = plan[0]
    assert first["target"] == "PATCH_1" and first["details"]["would_write"][0] == "PATCH_1/ps1.mat"
    assert [u["stage"] for u in plan if u["scope"] == "merged"] == [5, 6, 7, 8]


def test_rerun_skips_existing_and_force_invalidates(ds):
    r = run("run", "--dataset", ds, "--start-step", "1", "--end-step", "1", "--json")
    assert r.returncode == 0, r.stderr
    r = run("run", "--dataset", ds, "--start-step", "1", "--end-step", "1", "--json")
    assert {u["status"] for u in json.loads(r.stdout)} == {"skipped_existing"}
    plan = json.loads(run("run", "--dataset", ds, "--start-step", "1", "--end-step", "2", "--dry-run",
                          "--json").stdout)
    assert [u["status"] for u in plan if u["target"] == "PATCH_1"] == ["skipped_existing", "planned"]
    # a fake later artifact is removed when stage 1 is forced again
    (ds / "PATCH_1" / "pm1.mat").write_bytes(b"stale")
    r = run("run", "--dataset", ds, "--start-step", "1", "--end-step", "1", "--force", "--json", "--patch", "PATCH_1")
    units = json.loads(r.stdout)
    assert units[0]["status"] == "completed" and "PATCH_1/pm1.mat" in units[0]["details"]["removed"]
    assert not (ds / "PATCH_1" / "pm1.mat").exists()


def _one_line_error(r, *needles):
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-1000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.mark.parametrize("damage, needles", [
    (lambda d: (d / "PATCH_3" / "pscands.1.ph").write_bytes((d / "PATCH_3" / "pscands.1.ph").read_bytes()[:-8]),
     ["PATCH_3/pscands.1.ph", "bytes, expected"]),
    (lambda d: (d / "day.1.in").write_text((d / "day.1.in").read_text() + "20991231\n"),
     ["bperp.1.in", "expected 11"]),
    (lambda d: (d / "bperp.1.in").write_text("12.5\nabc\n" + "\n".join(["1"] * 8) + "\n"),
     ["bperp.1.in", "line 2", "'abc' is not a number"]),
    (lambda d: (d / "width.txt").write_text("wide\n"), ["width.txt", "not a number"]),
    (lambda d: (d / "PATCH_2" / "pscands.1.ij").unlink(), ["PATCH_2/pscands.1.ij", "file not found"]),
    (lambda d: (d / "PATCH_1" / "pscands.1.da").write_text("0.2\n"), ["pscands.1.da", "expected"]),
    (lambda d: (d / "lambda.1.in").write_text("55.4\n"), ["lambda.1.in", "not plausible"]),
    (lambda d: (d / "master_day.1.in").write_text("2019-13-01\n"), ["master_day.1.in", "YYYYMMDD"]),
])
def test_bad_input_one_line_exit_2_nothing_written(ds, damage, needles):
    damage(ds)
    before = snapshot(ds)
    r = run("run", "--dataset", ds, "--start-step", "1", "--end-step", "4")
    _one_line_error(r, *needles)
    assert snapshot(ds) == before


def test_bad_arguments_and_config(ds, tmp_path):
    _one_line_error(run("run", "--dataset", tmp_path / "nope"), "dataset folder not found")
    _one_line_error(run("run", "--dataset", ds, "--start-step", "5", "--end-step", "2"), "invalid stage range")
    cfg = tmp_path / "c.yaml"
    cfg.write_text("runtime:\n  backend: fast\n")
    _one_line_error(run("--config", cfg, "run", "--dataset", ds), "runtime.backend", "auto, python, native")
    _one_line_error(run("--config", tmp_path / "missing.yaml", "status", "--dataset", ds), "config file not found")
    _one_line_error(run("run", "--dataset", ds, "--patch", "PATCH_9", "--dry-run"), "no patch named PATCH_9")
    r = run("run", "--dataset", ds, "--start-step", "x")
    assert r.returncode == 2 and "invalid int value" in r.stderr


def test_synth_cli_refuses_non_empty_folder_and_bad_sizes(tmp_path):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    _one_line_error(run("synth", "--out", tmp_path / "full"), "not empty")
    _one_line_error(run("synth", "--out", tmp_path / "new", "--rg-patches", "0"), "synth:")
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())
