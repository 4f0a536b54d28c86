#!/usr/bin/env python3
"""Side by side: the Python driver with python kernels, with native kernels, and the native runner.

    python ci/native_runner_bench.py --dataset DIR [--stamps-times TSV] [--workdir DIR]
                                     [--end-step 8] [--skip-python] [--json]

Each variant processes its own copy of DIR from stage 1 to ``--end-step`` in child processes:

* ``python``: ``pystamps run`` with ``runtime.backend: python`` (the reference kernels);
* ``native-kernels``: ``pystamps run`` with ``runtime.backend: native``;
* ``native-runner``: ``pystamps-native run --native-only``, every stage (1-8) in one
  process with no Python interpreter.

Per-stage times are the ``duration_sec`` of the ``--json`` units summed over patches; the
wall time and peak RSS are those of the child processes (``os.wait4``). With
``--stamps-times`` (a golden's ``stamps/octave_stage_times.tsv``) StaMPS' stage times are a
column too. The native runner's result is then checked against the native-kernels run with
``pystamps verify --profile strict``.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LABELS = ["1", "2", "3", "4", "5", "6", "7", "8"]


def child(cmd: list[str]) -> tuple[list[dict], float, int]:
    """Run ``cmd`` (which prints ``--json`` units); (units, wall s, peak RSS bytes)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} ... failed (exit {os.waitstatus_to_exitcode(status)})")
    return json.loads(out), wall, ru.ru_maxrss * 1024


def stage_sums(units: list[dict]) -> dict[str, float]:
    out: dict[str, float] = {}
    for u in units:
        out[str(u["stage"])] = out.get(str(u["stage"]), 0.0) + float(u["duration_sec"])
    return out


def config(work: Path, backend: str) -> Path:
    p = work / f"{backend}.yaml"
    p.write_text(f"runtime:\n  backend: {backend}\n  stage2_kernel_backend: {backend}\n")
    return p


def python_driver(root: Path, cfg: Path, start: int, end: int) -> list[str]:
    return [str(BIN / "pystamps"), "--config", str(cfg), "run", "--no-mpi", "--dataset", str(root),
            "--start-step", str(start), "--end-step", str(end), "--json"]


def native_runner(exe: Path, root: Path, start: int, end: int) -> list[str]:
    return [str(exe), "run", "--native-only", "--dataset", str(root), "--start-step", str(start),
            "--end-step", str(end), "--backend", "native", "--stage2-kernel-backend", "native",
            "--cpu-workers", "0", "--stage2-native-threads", "0", "--json"]


def stamps_times(tsv: Path) -> dict[str, float]:
    out = {}
    for line in tsv.read_text().splitlines()[1:]:
        f = line.split("\t")
        if len(f) >= 2 and f[0].strip() in LABELS:
            out[f[0].strip()] = float(f[1])
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, type=Path, help="dataset root (copied, never modified)")
    ap.add_argument("--stamps-times", type=Path, help="octave_stage_times.tsv of a golden, for a StaMPS column")
    ap.add_argument("--workdir", type=Path, help="where the copies go (default: a temporary folder, removed)")
    ap.add_argument("--end-step", type=int, default=8, help="last stage (default 8)")
    ap.add_argument("--skip-python", action="store_true", help="leave out the python-kernels variant (slow)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    a = ap.parse_args(argv)
    exe = REPO / "target" / "release" / "pystamps-native"
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "pystamps-native"], cwd=REPO, check=True)
    tmp = None
    work = a.workdir or Path(tmp := tempfile.mkdtemp(prefix="pystamps-nrb-"))
    work.mkdir(parents=True, exist_ok=True)
    rep: dict = {"dataset": str(a.dataset), "loadavg": list(os.getloadavg()), "runs": {}}
    try:
        variants = ([] if a.skip_python else ["python"]) + ["native-kernels", "native-runner"]
        for v in variants:
            root = work / v
            shutil.rmtree(root, ignore_errors=True)
            shutil.copytree(a.dataset, root)
            if v != "native-runner":
                units, wall, rss = child(python_driver(root, config(work, "python" if v == "python" else "native"),
                                                       1, a.end_step))
                segs = [(units, wall, rss)]
            else:
                segs = [child(native_runner(exe, root, 1, a.end_step))]
            units = [u for seg in segs for u in seg[0]]
            rep["runs"][v] = {"stages_s": stage_sums(units), "wall_s": sum(s[1] for s in segs),
                              "peak_rss_bytes": max(s[2] for s in segs)}
        if a.stamps_times:
            rep["stamps_s"] = stamps_times(a.stamps_times)
        r = subprocess.run([str(BIN / "pystamps"), "verify", "--run", str(work / "native-runner"), "--golden",
                            str(work / "native-kernels"), "--profile", "strict", "--through-stage",
                            str(a.end_step)], capture_output=True, text=True)
        rep["verify_native_runner_vs_native_kernels"] = (r.stdout.strip().splitlines() or ["?"])[0]
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    if a.json:
        print(json.dumps(rep, indent=1))
        return 0
    runs = rep["runs"]
    cols = list(runs) + (["StaMPS"] if "stamps_s" in rep else [])
    print(f"dataset {rep['dataset']}, load average at start {rep['loadavg'][0]:.2f}")
    print(f"{'stage':>6} " + " ".join(f"{c:>15}" for c in cols) + "   ratios to native-runner")
    nr = runs["native-runner"]["stages_s"]
    for s in LABELS[: a.end_step]:
        vals = [runs[c]["stages_s"].get(s, 0.0) for c in runs] + ([rep["stamps_s"].get(s, 0.0)] if "stamps_s" in rep else [])
        ratios = ", ".join(f"{c} {v / nr[s]:.1f}x" for c, v in zip(cols, vals) if c != "native-runner" and nr.get(s))
        print(f"{s:>6} " + " ".join(f"{v:15.2f}" for v in vals) + f"   {ratios}")
    tot = [sum(runs[c]["stages_s"].values()) for c in runs] + (
        [sum(rep["stamps_s"].get(s, 0.0) for s in LABELS[: a.end_step])] if "stamps_s" in rep else [])
    ntot = sum(nr.values())
    print(f"{'sum':>6} " + " ".join(f"{v:15.2f}" for v in tot) + "   " +
          ", ".join(f"{c} {v / ntot:.1f}x" for c, v in zip(cols, tot) if c != "native-runner"))
    print(f"{'wall':>6} " + " ".join(f"{runs[c]['wall_s']:15.2f}" for c in runs))
    print(f"{'RSS':>6} " + " ".join(f"{runs[c]['peak_rss_bytes'] / 2**20:12.0f} MiB" for c in runs))
    print(rep["verify_native_runner_vs_native_kernels"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
