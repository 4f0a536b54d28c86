"""The stage runner: plan units, skip what is complete, invalidate what depends on a rerun, run, report.

Units: stages 1, 2, 3, 4 and 5a per patch (``patch.list`` order, all of a patch's
stages before the next patch, as stamps.m does), then 5b (merge), 6, 7 and 8 once
at the dataset root ("merged").

Semantics:
- a unit that is complete (see :mod:`pystamps_batch.markers`: all artifacts, and
  their marker still matching the inputs and parameters) is ``skipped_existing``
  unless ``force``; a stale or interrupted unit reruns, and says why;
- a unit runs as: running marker -> compute -> remove the artifacts (and markers)
  of the later units that depended on it (listed in ``details.removed``) ->
  publish its own artifacts atomically -> completion marker. A kill at any point
  leaves either the previous state or an ``interrupted`` unit that the next run
  redoes; nothing half-written is ever read;
- a failed unit stops the later stages of its patch (``blocked``); other patches go
  on; the merged stages do not start while any patch failed; the exit status is 1;
- a patch without candidates, or with no PS left after a stage (StaMPS'
  ``no_ps_info.mat``), reports ``skipped_no_ps`` for its later units and is left
  out of the merge.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from . import diskspace, markers
from .config import RunConfig
from .dataset.artifacts import MERGED, PATCH, STAGES, StageSpec
from .dataset.layout import Dataset
from .errors import ConfigError, PystampsError, StageError
from .io.matfile import MatFileError, load_mat, mat_path, save_mat
from .kernels.registry import KernelSet
from .parameters_io import load_params
from .stage_io import EXECUTORS, UnitContext

PLANNED, COMPLETED, SKIPPED, FAILED, BLOCKED, NO_PS = (
    "planned", "completed", "skipped_existing", "failed", "blocked", "skipped_no_ps")
PSVER = {"1": 1, "4": 2, "5b": 2}

#: prepared-dataset files stage 1 reads (root), besides the patch's pscands.1.*
ROOT_INPUTS = ("width.txt", "len.txt", "day.1.in", "master_day.1.in", "bperp.1.in", "look_angle.1.in",
               "heading.1.in", "lambda.1.in", "slc_osfactor.1.in", "calamp.out", "processor.txt", "parms.mat",
               "rsc.txt", "pscphase.in")
PATCH_INPUTS = ("pscands.1.ij", "pscands.1.ph", "pscands.1.ll", "pscands.1.hgt", "pscands.1.da", "patch.in")


@dataclass
class Unit:
    spec: StageSpec
    target: str
    folder: Path
    patch: Any = None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.spec.stage, self.spec.scope, self.target)

    @property
    def label(self) -> str:
        return self.spec.label

    def outputs(self) -> list[Path]:
        return [mat_path(self.folder, n) for n in self.spec.writes]

    def optional_outputs(self) -> list[Path]:
        return [mat_path(self.folder, n) for n in self.spec.optional_writes]


@dataclass
class UnitResult:
    stage: int
    scope: str
    target: str
    status: str
    duration_sec: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def all_units(ds: Dataset) -> list[Unit]:
    """Every unit of the dataset in execution order."""
    units: list[Unit] = []
    for p in ds.patches:
        for s in STAGES:
            if s.scope == PATCH:
                units.append(Unit(s, p.name, p.path, p))
    for s in STAGES:
        if s.scope == MERGED:
            units.append(Unit(s, ds.root.name or str(ds.root), ds.root))
    return units


def select_units(ds: Dataset, start: int, end: int) -> list[Unit]:
    if not (1 <= start <= end <= 8):
        raise ConfigError(f"invalid stage range {start}..{end}: expected 1 <= start-step <= end-step <= 8")
    return [u for u in all_units(ds) if start <= u.spec.stage <= end]


def depends_on(u: Unit, d: Unit) -> bool:
    """Does unit ``u`` read what unit ``d`` wrote?"""
    if u.spec.scope == PATCH:
        return d.spec.scope == PATCH and d.target == u.target and d.spec.stage < u.spec.stage
    if d.spec.scope == PATCH:
        return True
    return d.spec.stage < u.spec.stage or (d.spec.stage == u.spec.stage and d.label < u.label)


def dependents(unit: Unit, every: list[Unit]) -> list[Unit]:
    """Units whose outputs depend on ``unit``."""
    return [u for u in every if u is not unit and depends_on(u, unit)]


def _rel(ds: Dataset, p: Path) -> str:
    try:
        return str(p.relative_to(ds.root))
    except ValueError:
        return str(p)


class StateOracle:
    """Completeness of units from artifacts and markers (cached per plan/run)."""

    def __init__(self, ds: Dataset, cfg: RunConfig):
        self.ds = ds
        self.cfg = cfg
        self.every = all_units(ds)
        self._params: dict[Path, Any] = {}

    def params(self, u: Unit):
        if u.folder not in self._params:
            self._params[u.folder] = load_params(self.ds.root, u.folder, self.cfg.stamps)
        return self._params[u.folder]

    def raw_inputs(self, u: Unit) -> list[Path]:
        r = self.ds.root
        if u.label == "1":
            files = [r / n for n in ROOT_INPUTS] + sorted(r.glob("bperp_*.1.in"))
            files += self.ds.step1_recorded_inputs()          # snap: the .rslc.par and .base files
            return files + [u.folder / n for n in PATCH_INPUTS]
        if u.label == "5b":
            return [p.path / "patch_noover.in" for p in self.ds.patches]
        return []

    def current_inputs(self, u: Unit, *, digest: bool) -> dict[str, Any]:
        """Fingerprints of what ``u`` reads now: raw files and its upstream units' outputs."""
        out: dict[str, Any] = {}
        for p in self.raw_inputs(u):
            if p.is_file():
                out[_rel(self.ds, p)] = markers.file_fp(p, digest=digest)
        owned = set()          # files of u or of later merged units (the merge's optional phuw2/scla2/scn2)
        if u.spec.scope == MERGED:
            for w in self.every:
                if w.spec.scope == MERGED and w.spec.stage >= u.spec.stage:
                    owned.update(w.spec.writes)
        for d in self.every:
            if not depends_on(u, d):
                continue
            rec = markers.read_done(d.folder, d.label)
            for p in d.outputs() + d.optional_outputs():
                if not p.is_file() or (d.folder == u.folder and p.stem in owned):
                    continue
                key = _rel(self.ds, p)
                fp = (rec or {}).get("outputs", {}).get(p.name)
                out[key] = fp if fp and markers.same_file(p, fp) else markers.file_fp(p, digest=digest)
        return out

    def state(self, u: Unit) -> markers.State:
        if markers.running_path(u.folder, u.label).is_file():
            return markers.State("interrupted", "a previous run stopped inside this stage")
        missing = [p.name for p in u.outputs() if not p.is_file()]
        if missing:
            return markers.State("missing", f"missing {', '.join(missing)}")
        rec = markers.read_done(u.folder, u.label)
        if rec is None:
            return markers.State("complete", "artifacts without a pystamps marker (trusted)", foreign=True)
        for name, fp in rec.get("outputs", {}).items():
            if not markers.same_file(u.folder / name, fp):
                return markers.State("stale", f"{name} changed since the stage wrote it")
        why = markers.inputs_changed(rec.get("inputs", {}), self.current_inputs(u, digest=False), self.ds.root)
        if why:
            return markers.State("stale", why)
        why = markers.params_changed(rec.get("params", {}), markers.params_subset(self.params(u), u.spec.params))
        if why:
            return markers.State("stale", why)
        return markers.State("complete")


def _no_ps_flags(folder: Path) -> np.ndarray | None:
    p = mat_path(folder, "no_ps_info")
    if not p.is_file():
        return None
    try:
        return np.asarray(load_mat(p)["stamps_step_no_ps"], dtype=np.float64).ravel()
    except (MatFileError, KeyError):
        return None


def no_ps_before(u: Unit) -> int | None:
    """The StaMPS step after which a patch had no PS left (blocking ``u``), else None."""
    if u.spec.scope != PATCH:
        return None
    if u.patch is not None and u.patch.n_cand == 0:
        return 0
    if u.label == "1":
        return None
    flags = _no_ps_flags(u.folder)
    if flags is None:
        return None
    for k in range(1, u.spec.stage):
        if k - 1 < flags.size and flags[k - 1]:
            return k
    return None


def plan(ds: Dataset, start: int, end: int, *, force: bool = False, patches: list[str] | None = None,
         cfg: RunConfig | None = None) -> list[UnitResult]:
    """What a run would do, without writing anything."""
    oracle = StateOracle(ds, cfg or RunConfig())
    results = []
    will_run: list[Unit] = []
    for name in patches or []:
        ds.patch(name)
    for u in select_units(ds, start, end):
        if patches is not None and (u.spec.scope == MERGED or u.target not in patches):
            continue
        det: dict[str, Any] = {"label": u.label, "function": u.spec.name}
        st = oracle.state(u)
        upstream = [w for w in will_run if depends_on(u, w)]
        if st.complete and not force and not upstream:
            det["files"] = [_rel(ds, p) for p in u.outputs()]
            if st.foreign:
                det["note"] = st.reason
            results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, SKIPPED, 0.0, det))
            continue
        will_run.append(u)
        det["would_write"] = [_rel(ds, p) for p in u.outputs()]
        det["reason"] = ("--force" if st.complete and force else
                         f"upstream {upstream[0].target} stage {upstream[0].label} reruns" if st.complete else
                         st.reason)
        rm = sorted({_rel(ds, p) for d in dependents(u, oracle.every)
                     for p in d.outputs() + d.optional_outputs() if p.is_file() and d not in will_run})
        if rm:
            det["would_remove"] = rm
        results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, PLANNED, 0.0, det))
    return results


class Runner:
    """Runs the units of one stage range on one dataset with one config."""

    def __init__(self, ds: Dataset, cfg: RunConfig, *, force: bool = False,
                 log: Callable[[str], None] | None = None, scratch: Path | None = None):
        self.ds = ds
        self.cfg = cfg
        self.force = force
        self.log = log or (lambda msg: None)
        self.kernels = KernelSet(cfg.runtime)
        self.scratch = scratch
        self.extra: dict[str, Any] = {}
        self.oracle = StateOracle(ds, cfg)
        self.n_images = ds.n_ifg + 1 if ds.n_ifg else 1

    # ---- one unit ------------------------------------------------------------------------
    def run_unit(self, u: Unit) -> UnitResult:
        t0 = time.perf_counter()
        det: dict[str, Any] = {"label": u.label, "function": u.spec.name}
        say = (lambda m, _u=u: self.log(f"[{_u.target} {_u.label}] {m}"))
        started = publishing = False
        self._remove_stale_temporaries(u.folder)
        try:
            n = (u.patch.n_cand or 0) if u.patch is not None else sum(p.n_cand or 0 for p in self.ds.patches)
            diskspace.check(u.folder, u.label, n, self.n_images)
            params = self.oracle.params(u)
            inputs = self.oracle.current_inputs(u, digest=True)
            markers.mark_running(u.folder, u.label)
            started = True
            ctx = UnitContext(self.ds, u.folder, params, self.kernels, u.patch, say, self.scratch, self.extra)
            self.kernels.take_report()
            outputs = EXECUTORS[u.label](ctx)
            kernels_used = self.kernels.take_report()
            removed = self.invalidate_dependents(u)
            if removed:
                det["removed"] = removed
                say(f"removed {len(removed)} later-stage file(s) that depended on it")
            publishing = True
            written = self.publish(u, outputs)
            markers.write_done(u.folder, u.label, function=u.spec.name,
                               outputs=[mat_path(u.folder, n) for n in outputs],
                               inputs=inputs, params=markers.params_subset(params, u.spec.params),
                               kernels=kernels_used)
            det["files"] = written
            det["kernels"] = kernels_used
            status = COMPLETED
        except PystampsError as exc:
            det["error"] = str(exc)
            status = FAILED
        except MemoryError:
            det["error"] = f"{u.target} stage {u.label}: out of memory"
            status = FAILED
        except OSError as exc:
            det["error"] = f"{exc.filename or u.folder}: {exc.strerror or exc}"
            status = FAILED
        except Exception as exc:  # a bug: report it as a failed unit, never a traceback
            if os.environ.get("PYSTAMPS_DEBUG"):
                raise
            det["error"] = f"internal error in stage {u.label}: {type(exc).__name__}: {exc}"
            status = FAILED
        if status == FAILED and started and not publishing:
            markers.running_path(u.folder, u.label).unlink(missing_ok=True)   # old state stays valid
        # a failure while publishing may leave some artifacts new and some old: the .running
        # marker stays, so status and the next run see the stage as interrupted and redo it
        return UnitResult(u.spec.stage, u.spec.scope, u.target, status, round(time.perf_counter() - t0, 3), det)

    @staticmethod
    def _remove_stale_temporaries(folder: Path) -> None:
        """Temporary files of a killed run (we hold the lock, so none is being written)."""
        for pat in (".*.mat.*.tmp", f"{markers.MARKER_DIR}/.*.tmp"):
            for p in folder.glob(pat):
                p.unlink(missing_ok=True)

    def invalidate_dependents(self, u: Unit) -> list[str]:
        """Remove the artifacts and markers of every unit that depends on ``u``."""
        removed = []
        for d in dependents(u, self.oracle.every):
            for p in d.outputs() + d.optional_outputs():
                if p.is_file():
                    p.unlink(missing_ok=True)          # another rank may remove the same merged file
                    removed.append(_rel(self.ds, p))
            markers.clear(d.folder, d.label)
        return sorted(set(removed))

    def publish(self, u: Unit, outputs: dict[str, dict]) -> list[str]:
        """Save each artifact atomically; remove own optional artifacts not produced this time."""
        expected = set(u.spec.writes) | set(u.spec.optional_writes)
        missing = [n for n in u.spec.writes if n not in outputs]
        if missing:
            raise StageError(f"stage {u.label} did not produce {', '.join(missing)}")
        unexpected = [n for n in outputs if n not in expected]
        if unexpected:
            raise StageError(f"stage {u.label} produced unexpected artifact(s) {', '.join(unexpected)}")
        markers.done_path(u.folder, u.label).unlink(missing_ok=True)
        for p in u.optional_outputs():
            if p.stem not in outputs:
                p.unlink(missing_ok=True)
        written = []
        for name, variables in outputs.items():
            path = mat_path(u.folder, name)
            try:
                save_mat(path, variables)
            except OSError as exc:
                raise StageError(f"{path}: cannot write ({exc.strerror or exc}); previous files left intact") from None
            written.append(_rel(self.ds, path))
        try:
            if u.label in PSVER:
                save_mat(mat_path(u.folder, "psver"), {"psver": np.array([[float(PSVER[u.label])]])})
            self._update_no_ps_info(u, outputs)
        except OSError as exc:
            raise StageError(f"{u.folder}: cannot write psver/no_ps_info ({exc.strerror or exc})") from None
        return written

    @staticmethod
    def _update_no_ps_info(u: Unit, outputs: dict[str, dict]) -> None:
        """StaMPS' ``no_ps_info.mat`` (``stamps_step_no_ps``, 5 x 1): flag k = no PS left after step k.

        Reset by step 1 (and by the merge at the root); steps 3 and 4 set their flag
        when nothing survives."""
        p = mat_path(u.folder, "no_ps_info")
        flags = _no_ps_flags(u.folder)
        if u.label in ("1", "5b") or flags is None or flags.size != 5:
            flags = np.zeros(5)
        flags = flags.reshape(5, 1).copy()
        if u.label == "3":
            keep = outputs["select1"].get("keep_ix")
            flags[2:] = 0
            flags[2, 0] = float(keep is None or int(np.sum(keep)) == 0)
        elif u.label == "4":
            n = outputs["ps2"].get("n_ps")
            flags[3:] = 0
            flags[3, 0] = float(n is None or int(np.ravel(n)[0]) == 0)
        elif u.label not in ("1", "5b"):
            return
        save_mat(p, {"stamps_step_no_ps": flags})

    # ---- sequences -----------------------------------------------------------------------
    def _skip(self, u: Unit, upstream_changed: bool) -> UnitResult | None:
        st = self.oracle.state(u)
        if st.complete and not self.force and not upstream_changed:
            self.log(f"[{u.target} {u.label}] skipped_existing")
            det = {"label": u.label, "function": u.spec.name}
            if st.foreign:
                det["note"] = st.reason
            return UnitResult(u.spec.stage, u.spec.scope, u.target, SKIPPED, 0.0, det)
        if not st.complete:
            self._why = st.reason
        else:
            self._why = "--force" if self.force else "an upstream stage reran"
        return None

    def _execute(self, u: Unit) -> UnitResult:
        why = getattr(self, "_why", "")
        self.log(f"[{u.target} {u.label}] {u.spec.name} ... ({why})")
        r = self.run_unit(u)
        if why:
            r.details["reason"] = why
        if r.status == FAILED:
            self.log(f"[{u.target} {u.label}] FAILED: {r.details.get('error')}")
        else:
            self.log(f"[{u.target} {u.label}] completed in {r.duration_sec:.2f} s")
        return r

    def run_patch(self, patch_name: str, start: int, end: int) -> list[UnitResult]:
        """Stages start..end (<= 5a) of one patch; a failure blocks its later stages."""
        results: list[UnitResult] = []
        changed = failed = False
        for u in select_units(self.ds, start, end):
            if u.spec.scope != PATCH or u.target != patch_name:
                continue
            if failed:
                results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, BLOCKED, 0.0,
                                          {"label": u.label, "reason": "an earlier stage of this patch failed"}))
                continue
            k = no_ps_before(u)
            if k is not None:
                why = "patch has no candidates" if k == 0 else f"no PS left after step {k}"
                results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, NO_PS, 0.0,
                                          {"label": u.label, "reason": why}))
                if k == 0 and u.label == "1":
                    save_mat(mat_path(u.folder, "no_ps_info"), {"stamps_step_no_ps": np.ones((5, 1))})
                continue
            r = self._skip(u, changed) or self._execute(u)
            results.append(r)
            changed = changed or r.status != SKIPPED
            failed = r.status == FAILED
        return results

    def run_merged(self, start: int, end: int, *, upstream_changed: bool, patches_failed: bool) -> list[UnitResult]:
        """Merged stages (5b..8) in range; blocked if a patch or an earlier merged stage failed."""
        results: list[UnitResult] = []
        changed, blocked = upstream_changed, patches_failed
        for u in select_units(self.ds, start, end):
            if u.spec.scope != MERGED:
                continue
            if blocked:
                results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, BLOCKED, 0.0,
                                          {"label": u.label, "reason": "a patch or an earlier merged stage failed"}))
                continue
            r = self._skip(u, changed) or self._execute(u)
            results.append(r)
            changed = changed or r.status != SKIPPED
            blocked = r.status == FAILED
        return results

    def run(self, start: int, end: int, *, patches: list[str] | None = None) -> list[UnitResult]:
        """All patches in list order, then the merged stages (one process).

        With ``patches`` only those patches' units run and the merged stages do not
        (a Slurm array task processes one patch this way)."""
        from .progress import Progress

        results: list[UnitResult] = []
        names = [p.name for p in self.ds.patches] if patches is None else patches
        bar = Progress(len(names), "patches done") if len(names) > 1 and start <= 5 else None
        for name in names:
            self.ds.patch(name)                       # InputError for an unknown patch
            results.extend(self.run_patch(name, start, end))
            if bar:
                bar.advance()
        if bar:
            bar.close()
        if patches is None:
            results.extend(self.run_merged(start, end, **merged_inputs(results)))
        return results


def merged_inputs(patch_results: list[UnitResult]) -> dict[str, bool]:
    """What the merged stages need to know about the patch units that ran."""
    return {"upstream_changed": any(r.status == COMPLETED for r in patch_results),
            "patches_failed": any(r.status in (FAILED, BLOCKED) for r in patch_results)}


def default_scratch(ds: Dataset) -> Path:
    """A per-run scratch folder: $PYSTAMPS_SCRATCH, else the system temp."""
    base = os.environ.get("PYSTAMPS_SCRATCH")
    return Path(base) if base else Path(os.environ.get("TMPDIR", "/tmp"))
