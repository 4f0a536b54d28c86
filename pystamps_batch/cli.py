"""The ``pystamps`` command: argument parsing, dispatch, printing and exit codes only.

Exit codes: 0 success; 1 a unit failed or verify found differences; 2 bad input,
bad config or bad arguments (one line on stderr, nothing written).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .errors import ConfigError, InputError, PystampsError

PROG = "pystamps"


def _eprint(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _dump(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=_json_default))


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


class _Parser(argparse.ArgumentParser):
    """argparse that prints one usage line and exits 2 (its default) on bad arguments."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        _eprint(f"{self.prog}: error: {message}")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=PROG, description="StaMPS persistent-scatterer InSAR processing (stages 1-8) "
                "with Rust kernels, MPI and containers.")
    p.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    p.add_argument("--config", metavar="FILE", help="YAML run configuration (runtime backends, workers, "
                   "StaMPS parameter overrides); see README")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    s = sub.add_parser("status", help="which stage artifacts exist, per patch and merged")
    s.add_argument("--dataset", required=True, metavar="DIR", help="dataset root (PATCH_n folders, patch.list, ...)")
    s.add_argument("--json", action="store_true", help="print JSON instead of a table")

    r = sub.add_parser("run", help="run a stage range (1-8) on a dataset")
    r.add_argument("--dataset", required=True, metavar="DIR", help="dataset root")
    r.add_argument("--start-step", type=int, default=1, metavar="A", help="first stage (1-8, default 1)")
    r.add_argument("--end-step", type=int, default=8, metavar="B", help="last stage (1-8, default 8)")
    r.add_argument("--dry-run", action="store_true", help="list the plan (planned/skipped_existing and files); write nothing")
    r.add_argument("--force", action="store_true", help="rerun stages whose artifacts already exist")
    r.add_argument("--patch", action="append", metavar="NAME",
                   help="only this patch's units (repeatable); merged stages are not run (used by Slurm array tasks)")
    r.add_argument("--cpu-workers", type=int, metavar="N", help="override runtime.cpu_workers (0 = all cores)")
    mpi = r.add_mutually_exclusive_group()
    mpi.add_argument("--mpi", dest="mpi", action="store_true", default=None,
                     help="run distributed over MPI ranks (default: when started by mpiexec/srun with > 1 rank)")
    mpi.add_argument("--no-mpi", dest="mpi", action="store_false", help="run in this process only, even under a launcher")
    r.add_argument("--json", action="store_true", help="print the unit reports as a JSON array")

    v = sub.add_parser("verify", help="compare a run with a golden (reference) output tree")
    v.add_argument("--run", required=True, metavar="RUN", help="dataset root that was processed")
    v.add_argument("--golden", required=True, metavar="GOLDEN", help="reference tree (e.g. StaMPS outputs)")
    v.add_argument("--profile", choices=("strict", "scientific"), default="strict",
                   help="tolerance profile (default strict)")
    v.add_argument("--through-stage", type=int, default=8, metavar="N", help="compare artifacts of stages <= N")
    v.add_argument("--json", action="store_true", help="print the report as JSON")

    sc = sub.add_parser("score", help="score a run against synthetic ground truth (truth.npz)")
    sc.add_argument("--run", required=True, metavar="RUN", help="dataset root that was processed")
    sc.add_argument("--truth", required=True, metavar="NPZ", help="truth.npz of the synthetic scene")
    sc.add_argument("--json", action="store_true", help="print JSON")

    d = sub.add_parser("describe-backends", help="the kernel registry and the backend the config selects")
    d.add_argument("--json", action="store_true", help="print JSON")

    sy = sub.add_parser("synth", help="generate a synthetic StaMPS dataset with ground truth")
    sy.add_argument("--out", required=True, metavar="DIR", help="output dataset root (created; must be empty)")
    _synth_options(sy)

    from . import export as _export
    from . import plot as _plot
    from .prep import cli as _prep

    ex = sub.add_parser("export", help=_export.HELP, description=_export.DESCRIPTION)
    _export.add_arguments(ex)
    pl = sub.add_parser("plot", help=_plot.HELP, description=_plot.DESCRIPTION)
    _plot.add_arguments(pl)
    pr = sub.add_parser("prep", help="prepare a StaMPS dataset root from a processor export (SNAP)")
    _prep.add_arguments(pr)
    from . import bench as _bench

    be = sub.add_parser("bench", help="python vs native kernels and stage chains, side by side (see BENCHMARKS.md)",
                        description="Python kernels against native kernels on the same inputs, then the stage chains "
                                    "with each backend; prints the speed-ups and the targets they meet or miss.")
    _bench.add_arguments(be)

    de = sub.add_parser("demo", help="generate a small synthetic scene, run the pipeline, print a summary")
    de.add_argument("--out", default="demo-out", metavar="DIR", help="working folder (default ./demo-out)")
    de.add_argument("--end-step", type=int, default=8, metavar="B", help="last stage to run (default 8)")
    de.add_argument("--seed", type=int, default=1, help="random seed of the scene (default 1)")
    return p


def _synth_options(sp: argparse.ArgumentParser) -> None:
    sp.add_argument("--width", type=int, default=500, help="range samples (default 500, 15 m pixels)")
    sp.add_argument("--length", type=int, default=500, help="azimuth lines (default 500)")
    sp.add_argument("--rg-patches", type=int, default=1, help="patches in range (default 1)")
    sp.add_argument("--az-patches", type=int, default=1, help="patches in azimuth (default 1)")
    sp.add_argument("--rg-overlap", type=int, default=50, help="patch overlap in range, pixels (default 50)")
    sp.add_argument("--az-overlap", type=int, default=50, help="patch overlap in azimuth, pixels (default 50)")
    sp.add_argument("--n-cand", type=int, default=None, help="number of candidates (default: generator's)")
    sp.add_argument("--n-ifg", type=int, default=None, help="number of interferograms (default: generator's)")
    sp.add_argument("--ps-fraction", type=float, default=None, help="fraction of true PS among candidates")
    sp.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    sp.add_argument("--flavour", choices=("doris", "snap"), default="doris",
                    help="dataset flavour: doris (mt_prep) or snap (mt_prep_snap: rslc/, diff0/, big-endian)")
    sp.add_argument("--write-export", action="store_true",
                    help="snap: also write the SNAP export rasters (rslc/*.rslc, diff0/*.diff, geo/) for prep tests")


def _load_cfg(args: argparse.Namespace):
    from .config import load_config

    return load_config(args.config)


def cmd_status(args: argparse.Namespace) -> int:
    from .dataset.layout import open_dataset
    from .status import collect_status, format_status

    st = collect_status(open_dataset(args.dataset), _load_cfg(args))
    _dump(st) if args.json else print(format_status(st))
    return 0


def _format_results(results) -> str:
    lines = [f"{'stage':<6}{'scope':<8}{'target':<16}{'status':<18}{'seconds':>8}  details"]
    for r in results:
        d = r.details
        if r.status == "failed":
            info = d.get("error", "")
        elif r.status == "planned":
            info = d.get("reason", "")
            if d.get("would_remove"):
                info += f"; would remove {len(d['would_remove'])} dependent file(s)"
        elif r.status == "completed":
            info = ", ".join(f"{k}={v}" for k, v in sorted(d.get("kernels", {}).items()))
            if d.get("removed"):
                info = f"removed {len(d['removed'])} dependent file(s); " + info
        else:
            info = d.get("reason") or d.get("note") or ""
        rank = f"[rank {d['rank']}] " if "rank" in d else ""
        lines.append(f"{d.get('label', r.stage):<6}{r.scope:<8}{r.target:<16}{r.status:<18}"
                     f"{r.duration_sec:>8.2f}  {rank}{info}".rstrip())
    return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .dataset.layout import open_dataset
    from .runner import Runner, plan

    cfg = _load_cfg(args)
    if args.cpu_workers is not None:
        if args.cpu_workers < 0:
            raise ConfigError(f"--cpu-workers: got {args.cpu_workers}, expected an integer >= 0")
        cfg = replace(cfg, runtime=replace(cfg.runtime, cpu_workers=args.cpu_workers))
    if not (1 <= args.start_step <= args.end_step <= 8):
        raise ConfigError(f"invalid stage range {args.start_step}..{args.end_step}: "
                          "expected 1 <= --start-step <= --end-step <= 8")
    ds = open_dataset(args.dataset)
    if args.start_step == 1:
        ds.validate()                      # every input checked before anything is written
    from .kernels.registry import KernelSet

    KernelSet(cfg.runtime)                 # backend selection errors before any work
    from .driver.detect import want_mpi

    if args.dry_run:
        results = plan(ds, args.start_step, args.end_step, force=args.force, patches=args.patch, cfg=cfg)
    elif want_mpi(args.mpi) and not args.patch:
        results = _run_mpi(ds, cfg, args)
        if results is None:                # a worker rank: rank 0 reports
            return 0
    else:
        from .lock import locked
        from .scratch import run_scratch

        with locked(ds, args.patch, warn=_eprint), run_scratch(ds) as scratch:
            runner = Runner(ds, cfg, force=args.force, log=_eprint, scratch=scratch)
            results = runner.run(args.start_step, args.end_step, patches=args.patch)
    if args.json:
        _dump([r.to_json() for r in results])
    else:
        print(_format_results(results))
    return 1 if any(r.status == "failed" for r in results) else 0


def _run_mpi(ds, cfg, args):
    """Distributed run; only rank 0 returns the reports. Ends the job if a rank died."""
    from .driver.detect import launcher_size

    try:
        from mpi4py import MPI
    except ImportError:
        raise ConfigError(f"MPI run requested ({'--mpi' if args.mpi else f'{launcher_size()} ranks started by a launcher'}) "
                          "but mpi4py is not installed (pip install 'pystamps-batch[mpi]'), "
                          "or pass --no-mpi to run in one process") from None
    from .driver.mpi import run_mpi

    results = run_mpi(ds, cfg, args.start_step, args.end_step, force=args.force, log=_eprint)
    if results is not None and any(r.scope == "job" for r in results):
        out = [r.to_json() for r in results]
        _dump(out) if args.json else print(_format_results(results))
        sys.stdout.flush()
        MPI.COMM_WORLD.Abort(1)
    return results


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import format_report, verify_trees

    for name, p in (("--run", args.run), ("--golden", args.golden)):
        if not Path(p).is_dir():
            raise InputError(f"{p}: {name} folder not found")
    if not 1 <= args.through_stage <= 8:
        raise ConfigError(f"--through-stage: got {args.through_stage}, expected 1..8")
    rep = verify_trees(Path(args.run), Path(args.golden), profile=args.profile, through_stage=args.through_stage)
    _dump(rep) if args.json else print(format_report(rep))
    return 0 if rep["ok"] else 1


def cmd_score(args: argparse.Namespace) -> int:
    from .score import format_score, score_run

    if not Path(args.run).is_dir():
        raise InputError(f"{args.run}: --run folder not found")
    if not Path(args.truth).is_file():
        raise InputError(f"{args.truth}: truth file not found")
    d = score_run(Path(args.run), Path(args.truth))
    _dump(d) if args.json else print(format_score(d))
    return 0


def cmd_describe_backends(args: argparse.Namespace) -> int:
    from .kernels.registry import describe_backends

    cfg = _load_cfg(args)
    d = describe_backends(cfg.runtime)
    if args.json:
        _dump(d)
        return 0
    ext = d["native_extension"]
    print(f"native extension: {'loaded' if ext['loaded'] else 'NOT loaded (' + str(ext['reason']) + ')'}")
    print(f"runtime: backend={d['runtime']['backend']} stage2_kernel_backend={d['runtime']['stage2_kernel_backend']}")
    print(f"{'kernel':<36}{'backends':<18}{'selected':<10}rule")
    for name, k in d["kernels"].items():
        print(f"{name:<36}{','.join(k['backends']):<18}{str(k['selected']):<10}{k.get('error') or k['rule']}")
    return 0


def _synth_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    kw = dict(width=args.width, length=args.length, rg_patches=args.rg_patches, az_patches=args.az_patches,
              rg_overlap=args.rg_overlap, az_overlap=args.az_overlap, seed=args.seed,
              flavour=args.flavour, write_export=args.write_export)
    for k in ("n_cand", "n_ifg", "ps_fraction"):
        v = getattr(args, k)
        if v is not None:
            kw[k] = v
    return kw


def cmd_synth(args: argparse.Namespace) -> int:
    from .synth import generate

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: output folder exists and is not empty")
    try:
        summary = generate(out, **_synth_kwargs(args))
    except ValueError as exc:
        raise ConfigError(f"synth: {exc}") from None
    _dump(summary)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    cfg = _load_cfg(args)
    return run_demo(Path(args.out), cfg, end_step=args.end_step, seed=args.seed, log=_eprint)


def _lazy(module: str):
    def run(args: argparse.Namespace) -> int:
        import importlib

        return importlib.import_module(f"pystamps_batch.{module}").run(args)
    return run


COMMANDS = {
    "status": cmd_status, "run": cmd_run, "verify": cmd_verify, "score": cmd_score,
    "describe-backends": cmd_describe_backends, "synth": cmd_synth, "demo": cmd_demo,
    "export": _lazy("export"), "plot": _lazy("plot"), "prep": _lazy("prep.cli"),
    "bench": _lazy("bench"),
}


def _limit_blas_threads_under_mpi() -> None:
    """Under an MPI launcher, give each rank's BLAS/OpenMP its share of the cores (before numpy loads)."""
    from .driver.detect import launcher_size

    n = launcher_size()
    if n <= 1:
        return
    from .resources import cpu_budget

    local = int(os.environ.get("MPI_LOCALNRANKS") or os.environ.get("SLURM_NTASKS_PER_NODE", "").split("(")[0] or n)
    share = str(max(1, cpu_budget() // max(1, local)))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, share)


def main(argv: Sequence[str] | None = None) -> int:
    _limit_blas_threads_under_mpi()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except PystampsError as exc:
        _eprint(f"{PROG}: error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _eprint(f"{PROG}: interrupted")
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:  # never a traceback for users; PYSTAMPS_DEBUG=1 shows it
        if os.environ.get("PYSTAMPS_DEBUG"):
            raise
        _eprint(f"{PROG}: internal error: {type(exc).__name__}: {exc} (set PYSTAMPS_DEBUG=1 for a traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
