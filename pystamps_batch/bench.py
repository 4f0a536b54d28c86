"""``pystamps bench``: where the time goes, python kernels against native kernels.

``pystamps bench [--size tiny|small|large] [--json] [--repeat K] [--workdir DIR]
[--no-chain] [--no-golden]`` (also ``make bench``) measures, side by side in one run:

1. **Kernels**: every registered kernel that has both backends, on the same generated
   inputs of a stated size, python vs native wall time (best of ``K`` repeats; a python
   run longer than 20 s is not repeated) and the speed-up.  Native kernels run with the
   process's CPU budget (``cpu_workers: 0``).  For the topofit periodogram it also
   reports the complex multiply-adds per second achieved by the whole row-invariant
   kernel against the peak of the same inner loop on data in L1 cache
   (``_native.bench_peak_cmac``).
2. **Chain on a generated dataset** (:func:`pystamps_batch.synth.generate`): stages 1-8
   run twice in child processes, ``runtime.backend: python`` and ``native``; per-stage
   times (summed over patches; the stage modules are imported before the run and that
   import time is reported on its own line), the wall time and the peak RSS of each child
   (``os.wait4``).
3. **Golden chain**: stages 1-8 with native kernels on a copy of
   ``<golden>/multi-2x2/input`` (located like the tests: ``$PYSTAMPS_GOLDEN`` or
   ``<repo>/../shared/golden``) against the StaMPS time of its
   ``stamps/octave_stage_times.tsv``; skipped with a note when absent.
4. ``--size large`` adds the 1,000,000-candidate x 60-interferogram, 16-patch generated
   dataset, native kernels only (stage times and peak RSS; target < 6 GiB).  It takes a
   while.

Targets (issue 5): ``stage2_topofit*`` >= 30x, every other kernel >= 3x, the whole
stage 2 >= 10x, the golden chain >= 30x faster than StaMPS.  The report states each.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: speed-up targets per kernel (x): topofit kernels 30, every other kernel 3.
TOPOFIT_TARGET = 30.0
KERNEL_TARGET = 3.0
STAGE2_TARGET = 10.0
GOLDEN_TARGET = 30.0
RSS_TARGET_GIB = 6.0
#: a python run longer than this (s) is not repeated
_LONG = 20.0

#: generated chain datasets: size -> synth.generate keyword arguments
CHAIN_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(width=500, length=500, n_cand=3000, n_ifg=10, seed=3),
    "small": dict(width=600, length=600, n_cand=12000, n_ifg=24, seed=3),
}
LARGE_CHAIN = dict(width=4000, length=4000, rg_patches=4, az_patches=4, n_cand=1_000_000, n_ifg=60, seed=3)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``pystamps bench``."""
    p.add_argument("--size", choices=("tiny", "small", "large"), default="small",
                   help="input sizes: small (default); large adds the 1M-candidate x 60-ifg x 16-patch chain "
                        "(slow); tiny is for smoke tests")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--repeat", type=int, default=3, metavar="K", help="best of K runs per kernel (default 3)")
    p.add_argument("--workdir", metavar="DIR", help="where to generate and run the datasets "
                   "(default: a temporary folder, removed afterwards)")
    p.add_argument("--no-chain", action="store_true", help="kernels only: skip the stage chains")
    p.add_argument("--no-golden", action="store_true", help="skip the golden multi-2x2 chain")


# ---------------------------------------------------------------------------------- inputs
def _phasors(rng: np.random.Generator, n: int, m: int, b: np.ndarray, noise: float = 0.5) -> np.ndarray:
    K = rng.uniform(-0.01, 0.01, n)
    bb = b if b.ndim == 2 else b[None, :]
    return np.exp(1j * (K[:, None] * bb + rng.normal(0, noise, (n, m)))).astype(np.complex64)


def _grid(rng: np.random.Generator, ni: int, nj: int, m: int) -> np.ndarray:
    i = np.arange(ni)[:, None, None]
    j = np.arange(nj)[None, :, None]
    k = np.arange(m)[None, None, :]
    ph = 0.05 * i + 0.03 * j * (k + 1) + rng.normal(0, 0.8, (ni, nj, m))
    return ((1 + 3 * rng.random((ni, nj, m))) * np.exp(1j * ph)).astype(np.complex64)


def _edges(rng: np.random.Generator, n: int) -> np.ndarray:
    a = rng.integers(0, n - 1, 3 * n)
    b = np.minimum(a + 1 + rng.integers(0, 3, a.size), n - 1)
    return np.stack([a, b], axis=1).astype(np.int64)


def kernel_cases(size: str, seed: int = 5) -> list[tuple[str, str, tuple, dict]]:
    """(kernel, input description, args, kwargs) for every kernel, at ``size``."""
    from .filters.clap import low_pass_filter

    rng = np.random.default_rng(seed)
    f = {"tiny": 0.05, "small": 1.0, "large": 4.0}[size]
    sc = lambda n: max(8, int(n * f))  # noqa: E731
    cases = []
    m, ntw = 30, 1.0
    nt = 2 * math.ceil(8 * ntw) + 1
    b = rng.normal(0, 150, m).astype(np.float32)
    n = sc(50000)
    z = _phasors(rng, n, m, b)
    cases.append(("stage2_topofit_row_invariant", f"{n} px x {m} ifg x {nt} trials", (z, b, ntw), {}))
    n2 = sc(20000)
    bm = (b[None, :] + rng.normal(0, 2, (n2, m))).astype(np.float32)
    cases.append(("stage2_topofit", f"{n2} px x {m} ifg x {nt} trials, per-pixel baselines",
                  (_phasors(rng, n2, m, bm), bm, ntw), {}))
    cases.append(("stage2_topofit_coh_row_invariant", f"{n} px x {m} ifg x {nt} trials, float64",
                  (z.astype(np.complex128), b.astype(np.float64), ntw), {}))
    nr = sc(300000)
    cases.append(("stage2_random_phase_coh", f"{nr} px x 20 ifg x 7 trials (StaMPS: 300000)",
                  (rng.normal(0, 150, 20), 0.33, nr, 2005), {}))
    nv = sc(1_000_000)
    cases.append(("stage2_histogram", f"{nv} values, 100 bins", (rng.random(nv),), {}))
    gi = {"tiny": 40, "small": 134, "large": 268}[size]
    nc = gi * gi
    cases.append(("stage2_grid_accumulate", f"{n} px x {m} ifg -> {nc} cells",
                  (z, rng.integers(0, nc, n), nc), {}))
    lp = low_pass_filter(50.0, 32, 800.0)
    g = _grid(rng, gi, gi, 20)
    cases.append(("stage2_clap_filter", f"{gi} x {gi} cells x 20 ifg, float64",
                  (g, 1.0, 0.3, 24, 8, lp), {}))
    nb = sc(10000)
    blocks = g[:32, :32, :].transpose(2, 0, 1)[np.arange(nb) % 20].copy()
    cases.append(("stage3_clap_filt_patch", f"{nb} blocks 32 x 32, complex64", (blocks, 1.0, 0.3, lp), {}))
    ncell = sc(1500)
    cells = np.stack([rng.integers(1, gi + 1, ncell), rng.integers(1, gi + 1, ncell)], axis=1)
    cells = np.unique(cells, axis=0)
    cases.append(("stage3_patch_phase", f"{cells.shape[0]} cells x 20 ifg (32 x 32 windows)",
                  (g, cells, 32, 1, 1.0, 0.3, lp), {}))
    u = 21
    npx = sc(3000)
    ph_u = _phasors(rng, npx, u, rng.normal(0, 150, u))
    day = 737000.0 + np.cumsum(rng.integers(12, 37, u)).astype(np.float64)
    bp = rng.normal(0, 150, u)
    bp[u // 2] = 0.0
    e4 = _edges(rng, npx)
    cases.append(("stage4_edge_stats", f"{e4.shape[0]} arcs x {u} images", (ph_u, e4, day, bp, 180.0), {}))
    ns, u7 = sc(100000), 30
    day7 = 737000.0 + np.cumsum(rng.integers(12, 37, u7)).astype(np.float64)
    B7 = (rng.normal(0, 150, u7)[None, :] + rng.normal(0, 2, (ns, u7))).astype(np.float32)
    B7[:, u7 // 2] = 0
    ph7 = (rng.uniform(-0.002, 0.002, ns)[:, None] * B7 + rng.normal(0, 1, (ns, u7))).astype(np.float32)
    cases.append(("stage7_scla", f"{ns} px x {u7} images", (ph7, B7, day7, u7 // 2, rng.uniform(10, 40, u7)), {}))
    e8 = _edges(rng, ns)
    cases.append(("stage8_edge_noise", f"{e8.shape[0]} arcs x {u7} images", (ph7, e8, day7, 60.0, u7 // 2), {}))
    return cases


# ---------------------------------------------------------------------------------- timing
def _best(fn: Callable[[], Any], repeat: int) -> float:
    best = math.inf
    for _ in range(max(1, repeat)):
        t = time.perf_counter()
        fn()
        dt = time.perf_counter() - t
        best = min(best, dt)
        if dt > _LONG:
            break
    return best


def kernel_benchmarks(size: str, repeat: int, log: Callable[[str], None]) -> list[dict]:
    """Python vs native time of every kernel (same inputs, best of ``repeat``)."""
    from .config import RuntimeConfig
    from .kernels.registry import KernelSet

    py = KernelSet.python()
    nat = KernelSet(RuntimeConfig(backend="native", stage2_kernel_backend="native"))
    rows = []
    for name, desc, args, kw in kernel_cases(size):
        fp, fn = py.get(name), nat.get(name)
        fn(*args, **kw)                                   # warm-up (pools, plans)
        tn = _best(lambda: fn(*args, **kw), repeat)
        tp = _best(lambda: fp(*args, **kw), repeat)
        target = TOPOFIT_TARGET if name.startswith("stage2_topofit") else KERNEL_TARGET
        rows.append({"kernel": name, "input": desc, "python_s": tp, "native_s": tn, "speedup": tp / tn,
                     "target": target, "met": tp / tn >= target})
        log(f"bench: {name:34s} python {tp:8.4f} s  native {tn:8.4f} s  x{tp / tn:6.1f}")
    return rows


def topofit_rate(rows: list[dict], size: str) -> dict | None:
    """Complex multiply-adds per second of the row-invariant topofit vs the inner-loop peak."""
    from . import _native
    from .resources import cpu_budget

    case = next((c for c in kernel_cases(size) if c[0] == "stage2_topofit_row_invariant"), None)
    row = next((r for r in rows if r["kernel"] == "stage2_topofit_row_invariant"), None)
    if case is None or row is None or not hasattr(_native, "bench_peak_cmac"):
        return None
    z, b, ntw = case[2]
    nt = 2 * math.ceil(8 * ntw) + 1
    cmacs = z.shape[0] * z.shape[1] * nt
    threads = cpu_budget()
    peak = float(_native.bench_peak_cmac(z.shape[1], nt, threads))
    achieved = cmacs / row["native_s"]
    search = float(_native.bench_trial_search_rate(z, b, float(ntw), threads))
    return {"cmacs": cmacs, "achieved_per_s": achieved, "peak_per_s": peak, "fraction": achieved / peak,
            "search_only_per_s": search, "search_only_fraction": search / peak, "threads": threads}


# ---------------------------------------------------------------------------------- chains
#: The chain's child process: imports the stage modules first (timed, reported apart, so
#: that the per-stage times are computation and I/O, not the first import of scipy
#: submodules), runs ``pystamps run`` and reports its peak RSS (VmHWM) on exit.
_CHILD = """import sys, time
t = time.perf_counter()
import importlib
for m in ("load", "gamma", "select", "weed", "correct", "merge", "ifgstd", "unwrap", "scla", "scn"):
    importlib.import_module("pystamps_batch.stages." + m)
import pystamps_batch.kernels.native, pystamps_batch.kernels.random_phase, pystamps_batch.kernels.patch_phase
sys.stderr.write("BENCH-IMPORT %.4f\\n" % (time.perf_counter() - t))
from pystamps_batch.cli import main
try:
    rc = main(sys.argv[1:])
finally:
    with open("/proc/self/status") as f:
        hwm = [ln.split()[1] for ln in f if ln.startswith("VmHWM:")]
    sys.stderr.write("BENCH-HWM-KB %s\\n" % (hwm[0] if hwm else "-1"))
sys.exit(rc)
"""


def _write_config(path: Path, backend: str) -> Path:
    path.write_text(f"runtime:\n  backend: {backend}\n  stage2_kernel_backend: {backend}\n"
                    "  stage2_native_threads: 0\n  cpu_workers: 0\n")
    return path


def run_chain(root: Path, backend: str, log: Callable[[str], None], start: int = 1, end: int = 8) -> dict:
    """Stages ``start..end`` on ``root`` in a child process; per-stage times, wall, peak RSS."""
    cfg = _write_config(root.parent / f"bench-{backend}.yaml", backend)
    cmd = [sys.executable, "-c", _CHILD, "--config", str(cfg), "run", "--dataset", str(root),
           "--start-step", str(start), "--end-step", str(end), "--json", "--no-mpi"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=str(root.parent))
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        text, etext = out.read(), err.read()
    try:
        units = json.loads(text)
    except json.JSONDecodeError:
        units = []
    imports = next((float(ln.split()[1]) for ln in etext.splitlines() if ln.startswith("BENCH-IMPORT ")), None)
    stages: dict[str, float] = {}
    kernels: dict[str, dict[str, str]] = {}
    failed = []
    for u in units:
        key = str(u.get("stage"))
        stages[key] = stages.get(key, 0.0) + float(u.get("duration_sec") or 0.0)
        for k, v in ((u.get("details") or {}).get("kernels") or {}).items():
            kernels.setdefault(key, {})[k] = v
        if u.get("status") == "failed":
            failed.append(f"{u.get('target')} stage {key}: {(u.get('details') or {}).get('error')}")
    # the child's own high-water mark (VmHWM): wait4's ru_maxrss would also count the
    # memory of this (forking) process, which Linux carries over into the child at exec
    hwm = next((int(ln.split()[1]) for ln in etext.splitlines() if ln.startswith("BENCH-HWM-KB ")), -1)
    rss = hwm * 1024 if hwm > 0 else ru.ru_maxrss * 1024
    res = {"backend": backend, "returncode": proc.returncode, "wall_s": wall, "imports_s": imports, "stages_s": stages,
           "peak_rss_bytes": rss, "kernels": kernels, "failed": failed}
    if proc.returncode != 0 and not failed:
        res["failed"] = [etext.strip().splitlines()[-1] if etext.strip() else f"exit {proc.returncode}"]
    log(f"bench: chain {root.name} [{backend}] {wall:.1f} s, peak RSS {rss / 2**20:.0f} MiB"
        + (f", FAILED: {res['failed'][0]}" if res["failed"] else ""))
    return res


def generated_chain(work: Path, size: str, log: Callable[[str], None], backends=("python", "native")) -> dict:
    """Generate the ``size`` dataset once, run the chain with each backend on a fresh copy."""
    from .synth import generate

    kw = LARGE_CHAIN if size == "large" else CHAIN_SIZES[size]
    src = work / f"gen-{size}"
    if src.exists():
        shutil.rmtree(src)
    t = time.perf_counter()
    summary = generate(src, **kw)
    log(f"bench: generated {summary['n_cand']} candidates x {summary['n_ifg']} ifgs, "
        f"{len(summary['patches'])} patch(es) in {time.perf_counter() - t:.1f} s")
    out = {"dataset": {k: summary[k] for k in ("n_cand", "n_ifg", "width", "length")} |
           {"patches": len(summary["patches"])}, "runs": {}}
    for be in backends:
        d = work / f"run-{size}-{be}"
        if d.exists():
            shutil.rmtree(d)
        shutil.copytree(src, d)
        out["runs"][be] = run_chain(d, be, log)
        shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(src, ignore_errors=True)
    return out


def golden_root() -> Path:
    return Path(os.environ.get("PYSTAMPS_GOLDEN", REPO.parent / "shared" / "golden"))


def stamps_times(path: Path) -> dict[str, float]:
    """stage -> seconds of an ``octave_stage_times.tsv`` (header: stage, seconds, ...)."""
    out: dict[str, float] = {}
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    si, ti = head.index("stage"), head.index("seconds")
    for ln in lines[1:]:
        f = ln.split("\t")
        if len(f) > max(si, ti):
            out[f[si]] = float(f[ti])
    return out


def golden_chain(work: Path, log: Callable[[str], None]) -> dict:
    """Native chain 1-8 on a copy of multi-2x2 against the StaMPS (Octave) stage times."""
    g = golden_root() / "multi-2x2"
    tsv = g / "stamps" / "octave_stage_times.tsv"
    if not (g / "input").is_dir() or not tsv.is_file():
        note = f"golden multi-2x2 not available at {g} (set PYSTAMPS_GOLDEN): skipped"
        log(f"bench: {note}")
        return {"skipped": note}
    d = work / "golden-multi-2x2"
    if d.exists():
        shutil.rmtree(d)
    shutil.copytree(g / "input", d)
    run = run_chain(d, "native", log)
    shutil.rmtree(d, ignore_errors=True)
    st = stamps_times(tsv)
    total = sum(st.values())
    return {"stamps_stages_s": st, "stamps_total_s": total, "native": run,
            "speedup_vs_stamps": total / run["wall_s"], "target": GOLDEN_TARGET,
            "met": total / run["wall_s"] >= GOLDEN_TARGET}


# ---------------------------------------------------------------------------------- report
def _fmt_chain(ch: dict) -> list[str]:
    runs = ch["runs"]
    stages = sorted({s for r in runs.values() for s in r["stages_s"]}, key=lambda s: (len(s), s))
    ds = ch["dataset"]
    lines = [f"chain 1-8 on a generated dataset: {ds['n_cand']} candidates x {ds['n_ifg']} ifgs, "
             f"{ds['patches']} patch(es) ({ds['width']} x {ds['length']} px)",
             f"  {'stage':6s}" + "".join(f"{b:>12s}" for b in runs) + ("   speed-up" if len(runs) == 2 else "")]
    for s in ["imports"] + stages + ["wall"]:
        vals = [r["wall_s"] if s == "wall" else (r.get("imports_s") or float("nan")) if s == "imports"
                else r["stages_s"].get(s, float("nan")) for r in runs.values()]
        line = f"  {s:6s}" + "".join(f"{v:12.2f}" for v in vals)
        if len(vals) == 2 and vals[1] > 0:
            line += f"   x{vals[0] / vals[1]:.1f}"
        lines.append(line)
    lines.append("  peak RSS" + "".join(f"{r['peak_rss_bytes'] / 2**20:10.0f} MiB" for r in runs.values()))
    for r in runs.values():
        if r["failed"]:
            lines.append(f"  {r['backend']}: FAILED {r['failed'][0]}")
    return lines


def format_report(rep: dict) -> str:
    lines = [f"pystamps bench (size {rep['size']}, {rep['threads']} thread(s), best of {rep['repeat']}, "
             f"load average {rep['loadavg'][0]:.2f} at start)", ""]
    lines.append(f"{'kernel':34s} {'input':52s} {'python s':>9s} {'native s':>9s} {'speed-up':>9s} target")
    for r in rep["kernels"]:
        lines.append(f"{r['kernel']:34s} {r['input'][:52]:52s} {r['python_s']:9.4f} {r['native_s']:9.4f} "
                     f"{r['speedup']:8.1f}x >={r['target']:.0f}x {'ok' if r['met'] else 'MISSED'}")
    tr = rep.get("topofit_rate")
    if tr:
        lines.append(f"topofit periodogram: {tr['achieved_per_s']:.3g} complex MAC/s for the whole row-invariant "
                     f"kernel = {100 * tr['fraction']:.0f} % of the inner-loop peak {tr['peak_per_s']:.3g}/s "
                     f"({tr['threads']} threads); the trial search alone in the kernel's layout reaches "
                     f"{100 * tr['search_only_fraction']:.0f} %")
    ch = rep.get("chain")
    if ch:
        lines += [""] + _fmt_chain(ch)
        s2 = ch.get("stage2_speedup")
        if s2 is not None:
            lines.append(f"  whole stage 2: x{s2:.1f} with native kernels (target >= {STAGE2_TARGET:.0f}x: "
                         f"{'ok' if s2 >= STAGE2_TARGET else 'MISSED'})")
    gd = rep.get("golden")
    if gd:
        lines.append("")
        if "skipped" in gd:
            lines.append(gd["skipped"])
        else:
            n = gd["native"]
            per = ", ".join(f"{s}: {v:.2f}" for s, v in sorted(n["stages_s"].items()))
            lines.append(f"golden multi-2x2 chain 1-8, native kernels: {n['wall_s']:.1f} s wall ({per}); StaMPS "
                         f"{gd['stamps_total_s']:.1f} s -> x{gd['speedup_vs_stamps']:.1f} "
                         f"(target >= {GOLDEN_TARGET:.0f}x: {'ok' if gd['met'] else 'MISSED'}); peak RSS "
                         f"{n['peak_rss_bytes'] / 2**20:.0f} MiB" + (f"; FAILED {n['failed'][0]}" if n["failed"] else ""))
    lg = rep.get("large")
    if lg:
        lines += [""] + _fmt_chain(lg)
        r = lg["runs"]["native"]
        lines.append(f"  peak RSS {r['peak_rss_bytes'] / 2**30:.2f} GiB (target < {RSS_TARGET_GIB:.0f} GiB: "
                     f"{'ok' if r['peak_rss_bytes'] < RSS_TARGET_GIB * 2**30 else 'MISSED'})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; prints a table (or JSON with ``--json``); 0 on success."""
    from .kernels.registry import native_available
    from .resources import cpu_budget

    ok, reason = native_available()
    log = (lambda msg: print(msg, file=sys.stderr, flush=True))
    if not ok:
        log(f"pystamps bench: the native extension did not load ({reason}); build it with `maturin develop --release`")
        return 1
    rep: dict[str, Any] = {"size": args.size, "repeat": args.repeat, "threads": cpu_budget(),
                           "loadavg": list(os.getloadavg())}
    rep["kernels"] = kernel_benchmarks(args.size, args.repeat, log)
    rep["topofit_rate"] = topofit_rate(rep["kernels"], args.size)
    tmp = None
    work = Path(args.workdir) if args.workdir else Path(tmp := tempfile.mkdtemp(prefix="pystamps-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if not args.no_chain:
            ch = generated_chain(work, "tiny" if args.size == "tiny" else "small", log)
            py, nat = ch["runs"]["python"]["stages_s"], ch["runs"]["native"]["stages_s"]
            if py.get("2") and nat.get("2"):
                ch["stage2_speedup"] = py["2"] / nat["2"]
            rep["chain"] = ch
            if not args.no_golden:
                rep["golden"] = golden_chain(work, log)
            if args.size == "large":
                rep["large"] = generated_chain(work, "large", log, backends=("native",))
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    rep["loadavg_end"] = list(os.getloadavg())
    if args.json:
        print(json.dumps(rep, indent=1, default=float))
    else:
        print(format_report(rep))
    failed = [r for k in ("chain", "large") if rep.get(k) for r in rep[k]["runs"].values() if r["failed"]]
    gd = rep.get("golden") or {}
    if gd.get("native", {}).get("failed"):
        failed.append(gd["native"])
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m pystamps_batch.bench`` (the same options as ``pystamps bench``)."""
    p = argparse.ArgumentParser(prog="pystamps bench", description=__doc__.split("\n\n")[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
