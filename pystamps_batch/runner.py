"""The stage runner: plan units, skip what exists, invalidate what depends on a rerun, run, report.

Units: stages 1, 2, 3, 4 and 5a per patch (``patch.list`` order, all of a patch's
stages before the next patch, as stamps.m does), then 5b (merge), 6, 7 and 8 once
at the dataset root ("merged").

Semantics (the seed's):
- a unit whose artifacts all exist is ``skipped_existing`` unless ``force``;
- running a unit first removes the artifacts of later stages that depend on it
  (later stages of the same patch and every merged stage; for a merged unit, the
  later merged stages) and lists them in ``details.removed``;
- a failed unit stops the later stages of its patch (``blocked``); other patches go
  on; the merged stages do not start while any patch failed; the exit status is 1.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .config import RunConfig
from .dataset.artifacts import MERGED, PATCH, STAGES, StageSpec
from .dataset.layout import Dataset
from .errors import ConfigError, PystampsError, StageError
from .io.matfile import mat_path, save_mat
from .kernels.registry import KernelSet
from .parameters_io import load_params
from .stage_io import EXECUTORS, UnitContext

PLANNED, COMPLETED, SKIPPED, FAILED, BLOCKED = "planned", "completed", "skipped_existing", "failed", "blocked"
PSVER = {"1": 1, "4": 2, "5b": 2}


@dataclass
class Unit:
    spec: StageSpec
    target: str
    folder: Path
    patch: Any = None

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.spec.stage, self.spec.scope, self.target)

    def outputs(self) -> list[Path]:
        return [mat_path(self.folder, n) for n in self.spec.writes]

    def optional_outputs(self) -> list[Path]:
        return [mat_path(self.folder, n) for n in self.spec.optional_writes]

    def complete(self) -> bool:
        return all(p.is_file() for p in self.outputs())


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


def dependents(unit: Unit, every: list[Unit]) -> list[Unit]:
    """Units whose outputs depend on ``unit`` (later stages of its patch, merged stages)."""
    out = []
    for u in every:
        if unit.spec.scope == PATCH:
            if u.spec.scope == PATCH and u.target == unit.target and u.spec.stage > unit.spec.stage:
                out.append(u)
            elif u.spec.scope == MERGED:
                out.append(u)
        elif u.spec.scope == MERGED and u.spec.stage > unit.spec.stage:
            out.append(u)
    return out


def _existing(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file()]


def _rel(ds: Dataset, p: Path) -> str:
    try:
        return str(p.relative_to(ds.root))
    except ValueError:
        return str(p)


def plan(ds: Dataset, start: int, end: int, *, force: bool = False,
         patches: list[str] | None = None) -> list[UnitResult]:
    """What a run would do, without writing anything."""
    every = all_units(ds)
    results = []
    will_run: set[tuple] = set()
    for name in patches or []:
        ds.patch(name)
    for u in select_units(ds, start, end):
        if patches is not None and (u.spec.scope == MERGED or u.target not in patches):
            continue
        upstream_reruns = any(k in will_run for k in [w.key for w in every if u in dependents(w, every)])
        if u.complete() and not force and not upstream_reruns:
            results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, SKIPPED, 0.0,
                                      {"label": u.spec.label, "function": u.spec.name,
                                       "files": [_rel(ds, p) for p in u.outputs()]}))
            continue
        will_run.add(u.key)
        rm = sorted({_rel(ds, p) for d in dependents(u, every) for p in _existing(d.outputs() + d.optional_outputs())
                     if d.key not in will_run})
        det = {"label": u.spec.label, "function": u.spec.name,
               "would_write": [_rel(ds, p) for p in u.outputs()]}
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

    def params_for(self, u: Unit):
        return load_params(self.ds.root, u.folder, self.cfg.stamps)

    def run_unit(self, u: Unit, every: list[Unit]) -> UnitResult:
        t0 = time.perf_counter()
        det: dict[str, Any] = {"label": u.spec.label, "function": u.spec.name}
        removed = []
        for d in dependents(u, every):
            for p in _existing(d.outputs() + d.optional_outputs()):
                p.unlink(missing_ok=True)         # another rank may remove the same merged file
                removed.append(_rel(self.ds, p))
        if removed:
            det["removed"] = sorted(set(removed))
            self.log(f"[{u.target} {u.spec.label}] removed {len(removed)} later-stage file(s) that depended on it")
        try:
            params = self.params_for(u)
            ctx = UnitContext(self.ds, u.folder, params, self.kernels, u.patch,
                              lambda m, _u=u: self.log(f"[{_u.target} {_u.spec.label}] {m}"),
                              self.scratch, self.extra)
            self.kernels.take_report()
            outputs = EXECUTORS[u.spec.label](ctx)
            written = self.publish(u, outputs)
            det["files"] = written
            det["kernels"] = self.kernels.take_report()
            status = COMPLETED
        except PystampsError as exc:
            det["error"] = str(exc)
            status = FAILED
        except MemoryError:
            det["error"] = f"{u.target} stage {u.spec.label}: out of memory"
            status = FAILED
        except Exception as exc:  # a bug: report it as a failed unit, never a traceback
            det["error"] = f"internal error in stage {u.spec.label}: {type(exc).__name__}: {exc}"
            status = FAILED
        return UnitResult(u.spec.stage, u.spec.scope, u.target, status, round(time.perf_counter() - t0, 3), det)

    def publish(self, u: Unit, outputs: dict[str, dict]) -> list[str]:
        """Save each artifact atomically; psver last."""
        expected = set(u.spec.writes) | set(u.spec.optional_writes)
        missing = [n for n in u.spec.writes if n not in outputs]
        if missing:
            raise StageError(f"stage {u.spec.label} did not produce {', '.join(missing)}")
        written = []
        for name, variables in outputs.items():
            if name not in expected:
                raise StageError(f"stage {u.spec.label} produced an unexpected artifact {name}")
            save_mat(mat_path(u.folder, name), variables)
            written.append(_rel(self.ds, mat_path(u.folder, name)))
        if u.spec.label in PSVER:
            save_mat(mat_path(u.folder, "psver"), {"psver": np.array([[float(PSVER[u.spec.label])]])})
        self._update_no_ps_info(u, outputs)
        return written

    @staticmethod
    def _update_no_ps_info(u: Unit, outputs: dict[str, dict]) -> None:
        """StaMPS' ``no_ps_info.mat`` (``stamps_step_no_ps``, 5 x 1): flag k = no PS left after step k.

        Reset by step 1 (and by the merge at the root); steps 3 and 4 set their flag
        when nothing survives."""
        p = mat_path(u.folder, "no_ps_info")
        if u.spec.label in ("1", "5b") or not p.is_file():
            flags = np.zeros((5, 1))
        else:
            from .io.matfile import load_mat

            flags = np.asarray(load_mat(p)["stamps_step_no_ps"], dtype=np.float64).reshape(5, 1)
        if u.spec.label == "3":
            keep = outputs["select1"].get("keep_ix")
            flags[2:] = 0
            flags[2, 0] = float(keep is None or int(np.sum(keep)) == 0)
        elif u.spec.label == "4":
            n = outputs["ps2"].get("n_ps")
            flags[3:] = 0
            flags[3, 0] = float(n is None or int(np.ravel(n)[0]) == 0)
        elif u.spec.label not in ("1", "5b"):
            return
        save_mat(p, {"stamps_step_no_ps": flags})

    def _skip(self, u: Unit, upstream_changed: bool) -> UnitResult | None:
        if u.complete() and not self.force and not upstream_changed:
            self.log(f"[{u.target} {u.spec.label}] skipped_existing")
            return UnitResult(u.spec.stage, u.spec.scope, u.target, SKIPPED, 0.0,
                              {"label": u.spec.label, "function": u.spec.name})
        return None

    def _execute(self, u: Unit, every: list[Unit]) -> UnitResult:
        self.log(f"[{u.target} {u.spec.label}] {u.spec.name} ...")
        r = self.run_unit(u, every)
        if r.status == FAILED:
            self.log(f"[{u.target} {u.spec.label}] FAILED: {r.details.get('error')}")
        else:
            self.log(f"[{u.target} {u.spec.label}] completed in {r.duration_sec:.2f} s")
        return r

    def run_patch(self, patch_name: str, start: int, end: int) -> list[UnitResult]:
        """Stages start..end (<= 5a) of one patch; a failure blocks its later stages."""
        every = all_units(self.ds)
        results: list[UnitResult] = []
        changed = failed = False
        for u in select_units(self.ds, start, end):
            if u.spec.scope != PATCH or u.target != patch_name:
                continue
            if failed:
                results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, BLOCKED, 0.0,
                                          {"label": u.spec.label, "reason": "an earlier stage of this patch failed"}))
                continue
            r = self._skip(u, changed) or self._execute(u, every)
            results.append(r)
            changed = changed or r.status != SKIPPED
            failed = r.status == FAILED
        return results

    def run_merged(self, start: int, end: int, *, upstream_changed: bool, patches_failed: bool) -> list[UnitResult]:
        """Merged stages (5b..8) in range; blocked if a patch or an earlier merged stage failed."""
        every = all_units(self.ds)
        results: list[UnitResult] = []
        changed, blocked = upstream_changed, patches_failed
        for u in select_units(self.ds, start, end):
            if u.spec.scope != MERGED:
                continue
            if blocked:
                results.append(UnitResult(u.spec.stage, u.spec.scope, u.target, BLOCKED, 0.0,
                                          {"label": u.spec.label, "reason": "a patch or an earlier merged stage failed"}))
                continue
            r = self._skip(u, changed) or self._execute(u, every)
            results.append(r)
            changed = changed or r.status != SKIPPED
            blocked = r.status == FAILED
        return results

    def run(self, start: int, end: int, *, patches: list[str] | None = None) -> list[UnitResult]:
        """All patches in list order, then the merged stages (one process).

        With ``patches`` only those patches' units run and the merged stages do not
        (a Slurm array task processes one patch this way)."""
        results: list[UnitResult] = []
        names = [p.name for p in self.ds.patches] if patches is None else patches
        for name in names:
            self.ds.patch(name)                       # InputError for an unknown patch
            results.extend(self.run_patch(name, start, end))
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
