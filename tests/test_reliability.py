"""Crash safety and resume: completion markers, invalidation, free space, failed writes, progress.

What a rerun must redo is decided by the per-stage markers (``.pystamps/stage-<label>.json``):
a stage whose inputs, parameters or own outputs changed since it ran is redone (with the
reason) and so is everything after it; a stage interrupted inside (``.running``) is redone;
a refused or failed write leaves the previous state usable.
"""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from datasets import MULTI, SINGLE, synth_dataset

PY = [sys.executable, "-m", "pystamps_batch.cli"]


def cli(*args, config: Path | None = None):
    pre = ["--config", str(config)] if config else []
    return subprocess.run([*PY, *pre, *map(str, args)], capture_output=True, text=True)


def plan(d: Path, start: int, end: int, config: Path | None = None) -> dict[tuple[str, int], dict]:
    r = cli("run", "--dataset", d, "--start-step", start, "--end-step", end, "--dry-run", "--json", config=config)
    assert r.returncode == 0, r.stderr[-1000:]
    return {(u["target"], u["stage"]): u for u in json.loads(r.stdout)}


@pytest.fixture()
def done3(tmp_path_factory, tmp_path):
    """SINGLE processed through stage 3."""
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **SINGLE)
    r = cli("run", "--dataset", d, "--start-step", "1", "--end-step", "3")
    assert r.returncode == 0, r.stderr[-1000:]
    return d


def test_changed_parameter_invalidates_that_stage_and_later_ones(done3, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stamps:\n  clap_beta: 0.5\n")          # read by stages 2 and 3, not 1
    p = plan(done3, 1, 3, cfg)
    assert p[("PATCH_1", 1)]["status"] == "skipped_existing"
    assert p[("PATCH_1", 2)]["status"] == "planned"
    assert "clap_beta" in json.dumps(p[("PATCH_1", 2)]["details"])
    before = (done3 / "PATCH_1" / "pm1.mat").read_bytes()
    r = cli("run", "--dataset", done3, "--start-step", "1", "--end-step", "3", "--json", config=cfg)
    assert r.returncode == 0, r.stderr[-1000:]
    st = {u["stage"]: u["status"] for u in json.loads(r.stdout)}
    assert st == {1: "skipped_existing", 2: "completed", 3: "completed"}
    assert (done3 / "PATCH_1" / "pm1.mat").read_bytes() != before
    # the same config again: nothing to do
    assert {u["status"] for u in plan(done3, 1, 3, cfg).values()} == {"skipped_existing"}


def test_weed_parameter_leaves_stages_1_to_3_alone(done3, tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text("stamps:\n  weed_standard_dev: 0.9\n")
    assert {u["status"] for u in plan(done3, 1, 3, cfg).values()} == {"skipped_existing"}


def test_changed_input_file_invalidates_stage_1(done3):
    ph = done3 / "PATCH_1" / "pscands.1.ph"
    a = np.fromfile(ph, "<c8")
    a[7] *= 1.5                                              # same size, other content
    a.tofile(ph)
    p = plan(done3, 1, 3)
    assert p[("PATCH_1", 1)]["status"] == "planned"
    assert "pscands.1.ph" in json.dumps(p[("PATCH_1", 1)]["details"])
    assert p[("PATCH_1", 2)]["status"] == "planned" and p[("PATCH_1", 3)]["status"] == "planned"


def test_changed_artifact_is_not_trusted(done3):
    pm = done3 / "PATCH_1" / "pm1.mat"
    pm.write_bytes(pm.read_bytes() + b"\0")
    p = plan(done3, 1, 3)
    assert p[("PATCH_1", 1)]["status"] == "skipped_existing"
    assert p[("PATCH_1", 2)]["status"] == "planned" and "pm1.mat" in json.dumps(p[("PATCH_1", 2)]["details"])


def test_interrupted_stage_is_redone_and_status_says_so(done3):
    (done3 / "PATCH_1" / ".pystamps" / "stage-3.running").write_text("{}")
    p = plan(done3, 1, 3)
    assert p[("PATCH_1", 3)]["status"] == "planned"
    assert "stopped inside" in json.dumps(p[("PATCH_1", 3)]["details"])
    st = json.loads(cli("status", "--dataset", done3, "--json").stdout)
    assert "2" in json.dumps(st)                              # last complete stage is 2 now
    r = cli("run", "--dataset", done3, "--start-step", "1", "--end-step", "3", "--json")
    assert [u["status"] for u in json.loads(r.stdout)] == ["skipped_existing", "skipped_existing", "completed"]
    assert not (done3 / "PATCH_1" / ".pystamps" / "stage-3.running").exists()


def _runner(d: Path, force: bool = False):
    from pystamps_batch.config import RunConfig
    from pystamps_batch.dataset.layout import open_dataset
    from pystamps_batch.runner import Runner

    return Runner(open_dataset(d, strict=True), RunConfig(), force=force, log=lambda m: None)


def test_not_enough_free_space_refuses_the_stage_and_writes_nothing(tmp_path_factory, tmp_path, monkeypatch):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **SINGLE)
    import shutil as _shutil

    from pystamps_batch import diskspace

    real = _shutil.disk_usage
    monkeypatch.setattr(diskspace.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=1 << 20))      # 1 MiB free
    before = sorted(p.name for p in (d / "PATCH_1").iterdir())
    res = _runner(d).run(1, 2)
    assert res[0].status == "failed"
    err = res[0].details["error"]
    assert "not enough free space" in err and "PATCH_1" in err and "MiB" in err
    assert sorted(p.name for p in (d / "PATCH_1").iterdir()) == before


def test_failed_write_keeps_previous_files_and_forces_a_redo(done3, monkeypatch):
    from pystamps_batch import runner as runner_mod

    real = runner_mod.save_mat
    calls = []

    def failing(path, variables, *a, **k):
        calls.append(Path(path).name)
        if len(calls) == 3:                                   # the third artifact of stage 1
            raise OSError(28, "No space left on device", str(path))
        return real(path, variables, *a, **k)

    monkeypatch.setattr(runner_mod, "save_mat", failing)
    old = {p.name: p.read_bytes() for p in (done3 / "PATCH_1").glob("*.mat")}
    res = _runner(done3, force=True).run(1, 1)
    assert res[0].status == "failed"
    assert calls[2] in res[0].details["error"] and "No space left" in res[0].details["error"]
    # every file is either the old one or a complete new one; no temporary is left
    for p in (done3 / "PATCH_1").glob("*.mat"):
        assert p.name in old
    assert not list((done3 / "PATCH_1").glob(".*.tmp"))
    # the half-published stage is not trusted: the next run redoes it (and what depends on it)
    monkeypatch.setattr(runner_mod, "save_mat", real)
    p = plan(done3, 1, 1)
    assert p[("PATCH_1", 1)]["status"] == "planned"
    res = _runner(done3).run(1, 3)
    assert [x.status for x in res] == ["completed", "completed", "completed"]


def test_progress_lines_in_batch_logs(tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    r = cli("run", "--dataset", d, "--start-step", "1", "--end-step", "1")
    assert r.returncode == 0
    pct = [ln for ln in r.stderr.splitlines() if "patches done:" in ln]
    assert pct and pct[-1].endswith("100% (4/4)")
    assert "\r" not in r.stderr                               # no bar redraws in a log file


def test_progress_bar_on_a_terminal(tmp_path_factory, tmp_path):
    d = synth_dataset(tmp_path_factory, tmp_path / "ds", **MULTI)
    pid, fd = pty.fork()
    if pid == 0:                                              # child: stderr is the terminal
        os.execv(sys.executable, [*PY, "run", "--dataset", str(d), "--start-step", "1", "--end-step", "1"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out[-1000:]
    text = out.decode(errors="replace")
    assert "\r" in text and "100%" in text and "#" in text
