"""The MPI driver: patches to ranks by a dynamic queue, merged stages on rank 0.

Rank 0 runs a *service thread* for the whole job. It answers the workers' work
requests from a shared queue (largest patch first), records their results and
heartbeats, keeps idle workers alive, and notices a worker that stopped
responding. Rank 0's main thread takes items from the same queue, so every rank
computes. After the patch phase rank 0 runs the merged stages; stage 6 hands its
per-interferogram snaphu solves to :meth:`Coordinator.map`, which spreads them
over all ranks the same way.

No rank busy-waits: waiting uses ``iprobe`` and short sleeps, so an idle worker
costs no CPU while rank 0 computes. A rank that dies ends the job with an error
within ``dead_after`` seconds (MPICH's launcher usually ends it sooner); finished
patches stay valid (atomic writes) and a rerun redoes only what is missing.
"""
from __future__ import annotations

import importlib
import os
import queue
import socket
import threading
import time
import traceback
from dataclasses import replace
from typing import Any, Callable

TAG_REQ, TAG_WORK, TAG_BEAT = 11, 12, 13
POLL = 0.005          # seconds between iprobe polls
BEAT_EVERY = 10.0     # worker heartbeat / keepalive period (s)


def _poll_recv(comm, source: int, tag: int, timeout: float | None = None):
    """Receive without spinning a core: iprobe + sleep. None on timeout."""
    from mpi4py import MPI

    st = MPI.Status()
    t0 = time.monotonic()
    while not comm.iprobe(source=source, tag=tag, status=st):
        if timeout is not None and time.monotonic() - t0 > timeout:
            return None, None
        time.sleep(POLL)
    return comm.recv(source=st.Get_source(), tag=tag), st.Get_source()


def _resolve(ref: str) -> Callable[..., Any]:
    mod, name = ref.split(":")
    return getattr(importlib.import_module(mod), name)


def _call(item: tuple[Any, tuple]) -> tuple[bool, Any]:
    """Run ``(function, args)`` -- a ``"module:function"`` reference or a picklable
    callable (e.g. a ``functools.partial`` of a module-level function); (ok, result or one-line error)."""
    ref, args = item
    try:
        fn = _resolve(ref) if isinstance(ref, str) else ref
        return True, fn(*args)
    except Exception as exc:  # reported to rank 0, never kills the worker
        if os.environ.get("PYSTAMPS_DEBUG"):
            traceback.print_exc()
        return False, f"{type(exc).__name__}: {exc}"


class Coordinator:
    """Rank 0's side: a service thread serving a work queue to all workers."""

    def __init__(self, comm, *, dead_after: float = 600.0, log: Callable[[str], None] = lambda m: None):
        self.comm = comm
        self.size = comm.Get_size()
        self.dead_after = dead_after
        self.log = log
        self._lock = threading.Lock()
        self._queue: "queue.Queue[tuple[int, tuple]]" = queue.Queue()
        self._results: dict[int, tuple[bool, Any, int]] = {}
        self._pending: dict[int, int] = {}             # worker rank -> item id in progress
        self._idle: set[int] = set()
        self._last_seen = {r: time.monotonic() for r in range(1, self.size)}
        self._stop = threading.Event()
        self._dead: dict[int, str] = {}
        self._next_id = 0
        self._thread = threading.Thread(target=self._serve, name="pystamps-mpi-service", daemon=True)
        self._thread.start()

    # ---- service thread ------------------------------------------------------------
    def _give(self, w: int) -> bool:
        try:
            iid, item = self._queue.get_nowait()
        except queue.Empty:
            return False
        self._pending[w] = iid
        self.comm.send(("item", iid, item), dest=w, tag=TAG_WORK)
        return True

    def _serve(self) -> None:
        from mpi4py import MPI

        st = MPI.Status()
        last_keepalive = time.monotonic()
        while not self._stop.is_set():
            got = False
            if self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_BEAT, status=st):
                w = st.Get_source()
                self.comm.recv(source=w, tag=TAG_BEAT)
                self._last_seen[w] = time.monotonic()
                got = True
            if self.comm.iprobe(source=MPI.ANY_SOURCE, tag=TAG_REQ, status=st):
                w = st.Get_source()
                msg = self.comm.recv(source=w, tag=TAG_REQ)
                self._last_seen[w] = time.monotonic()
                with self._lock:
                    if msg is not None:
                        iid, ok, res = msg
                        self._results[iid] = (ok, res, w)
                        self._pending.pop(w, None)
                    if not self._give(w):
                        self._idle.add(w)
                got = True
            with self._lock:
                for w in list(self._idle):
                    if self._give(w):
                        self._idle.discard(w)
            now = time.monotonic()
            if now - last_keepalive > BEAT_EVERY:
                for w in list(self._idle):
                    self.comm.send(("alive",), dest=w, tag=TAG_WORK)
                last_keepalive = now
            for w, seen in self._last_seen.items():
                if w not in self._dead and now - seen > self.dead_after:
                    with self._lock:
                        self._dead[w] = f"rank {w} stopped responding for {self.dead_after:.0f} s"
                        iid = self._pending.pop(w, None)
                        if iid is not None:
                            self._results[iid] = (False, self._dead[w], w)
                        self._idle.discard(w)
            if not got:
                time.sleep(POLL)

    # ---- main-thread API -------------------------------------------------------------
    def map(self, ref: Any, args_list: list[tuple], *, local: bool = True) -> list[tuple[bool, Any, int]]:
        """Run ``ref(*args)`` for every args tuple on all ranks (rank 0 included when
        ``local``); returns (ok, result-or-error, rank) in input order."""
        ids = []
        with self._lock:
            for args in args_list:
                iid = self._next_id
                self._next_id += 1
                ids.append(iid)
                self._queue.put((iid, (ref, args)))
        while True:
            with self._lock:
                done = all(i in self._results for i in ids)
                if not done and len(self._dead) == self.size - 1 and self._queue.empty() and not local:
                    raise RuntimeError("all workers are gone")
            if done:
                break
            item = None
            if local:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    item = None
            if item is not None:
                iid, work = item
                ok, res = _call(work)
                with self._lock:
                    self._results[iid] = (ok, res, 0)
            else:
                time.sleep(POLL)
        with self._lock:
            return [self._results.pop(i) for i in ids]

    @property
    def dead(self) -> dict[int, str]:
        with self._lock:
            return dict(self._dead)

    def shutdown(self) -> None:
        """Stop every live worker and the service thread."""
        self._stop.set()
        self._thread.join()
        for w in range(1, self.size):
            if w not in self._dead:
                self.comm.send(("stop",), dest=w, tag=TAG_WORK)


def worker_loop(comm, *, idle_timeout: float = 1800.0) -> None:
    """A worker rank: ask for work, do it, report, until told to stop.

    A heartbeat thread tells rank 0 this rank is alive while it computes; if rank 0
    sends nothing (not even a keepalive) for ``idle_timeout`` seconds, the worker
    gives up (rank 0 is gone) and the process exits with an error.
    """
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(BEAT_EVERY):
            comm.send(None, dest=0, tag=TAG_BEAT)

    hb = threading.Thread(target=beat, name="pystamps-mpi-heartbeat", daemon=True)
    hb.start()
    result = None
    try:
        while True:
            comm.send(result, dest=0, tag=TAG_REQ)
            result = None
            while True:
                msg, _ = _poll_recv(comm, 0, TAG_WORK, timeout=idle_timeout)
                if msg is None:
                    raise SystemExit(f"rank {comm.Get_rank()}: no word from rank 0 for {idle_timeout:.0f} s, giving up")
                if msg[0] != "alive":
                    break
            if msg[0] == "stop":
                return
            _, iid, work = msg
            ok, res = _call(work)
            result = (iid, ok, res)
    finally:
        stop.set()


# ---- the run ----------------------------------------------------------------------------

def rank_threads(comm) -> int:
    """Cores this rank may use: its affinity set shared among the node's ranks that overlap it."""
    from mpi4py import MPI

    from ..resources import cpu_budget

    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        mine = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        mine = set(range(os.cpu_count() or 1))
    sets = node.allgather(sorted(mine))
    sharing = sum(1 for s in sets if mine & set(s))
    node.Free()
    return max(1, min(cpu_budget(), len(mine)) // max(1, sharing))


def _patch_job(root: str, cfg, patch: str, start: int, end: int, force: bool,
               holder: str | None = None) -> list[dict]:
    """What a rank does for one patch (module-level so that it can be sent by reference):
    this package's runner, or ``pystamps-native`` with ``runtime.patch_engine: native``
    (``holder``: rank 0's ``host:pid``, whose dataset locks the binary works inside)."""
    from ..dataset.layout import open_dataset
    from ..runner import Runner

    if cfg.runtime.patch_engine == "native":
        from .native import run_native_patch

        return run_native_patch(root, cfg, patch, start, end, force, holder, _rank_log)

    ds = open_dataset(root)
    r = Runner(ds, cfg, force=force, log=_rank_log)
    return [u.to_json() for u in r.run_patch(patch, start, end)]


def _rank_log(msg: str) -> None:
    import sys

    from mpi4py import MPI

    print(f"[rank {MPI.COMM_WORLD.Get_rank()}] {msg}", file=sys.stderr, flush=True)


def run_mpi(ds, cfg, start: int, end: int, *, force: bool = False, log: Callable[[str], None] = print,
            dead_after: float | None = None):
    """Run stages start..end over MPI. Returns the unit reports on rank 0, None elsewhere."""
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    threads = rank_threads(comm)
    rt = cfg.runtime
    rt = replace(rt, stage2_native_threads=min(rt.stage2_native_threads or threads, threads),
                 cpu_workers=min(rt.cpu_workers or threads, threads))
    cfg = replace(cfg, runtime=rt)
    if rank != 0:
        if comm.bcast(None, root=0):           # rank 0 holds the dataset locks
            worker_loop(comm)
        return None
    import contextlib

    from ..errors import PystampsError
    from ..lock import locked
    from ..scratch import run_scratch

    stack = contextlib.ExitStack()
    try:
        if cfg.runtime.patch_engine == "native" and start <= 5:
            from .native import check_native_engine

            check_native_engine(cfg)
        stack.enter_context(locked(ds, warn=log))
        scratch = stack.enter_context(run_scratch(ds))
    except PystampsError:
        comm.bcast(False, root=0)
        stack.close()
        raise
    comm.bcast(True, root=0)
    with stack:
        return _run_rank0(comm, ds, cfg, start, end, force, log, dead_after, threads, scratch)


def _run_rank0(comm, ds, cfg, start, end, force, log, dead_after, threads, scratch):
    from ..runner import FAILED, Runner, UnitResult, merged_inputs

    size = comm.Get_size()
    dead_after = dead_after if dead_after is not None else float(os.environ.get("PYSTAMPS_MPI_DEAD_AFTER", "600"))
    coord = Coordinator(comm, dead_after=dead_after, log=log)
    log(f"[rank 0] MPI run on {size} ranks, {threads} thread(s) per rank")
    try:
        order = sorted(ds.patches, key=lambda p: -(p.n_cand or 0))      # largest first
        holder = f"{socket.gethostname()}:{os.getpid()}"       # as in our lock files
        jobs = [(str(ds.root), cfg, p.name, start, end, force, holder) for p in order] if start <= 5 else []
        if jobs and cfg.runtime.patch_engine == "native":
            log("[rank 0] per-patch engine: pystamps-native")
        outs = coord.map("pystamps_batch.driver.mpi:_patch_job", jobs)
        by_patch: dict[str, list[UnitResult]] = {}
        for (ok, res, r), job in zip(outs, jobs):
            name = job[2]
            if ok:
                units = [UnitResult(**{k: v for k, v in u.items()}) for u in res]
            else:
                units = [UnitResult(max(start, 1), "patch", name, FAILED, 0.0,
                                    {"error": f"rank {r}: {res}"})]
            for u in units:
                u.details["rank"] = r
            by_patch[name] = units
        results = [u for p in ds.patches for u in by_patch.get(p.name, [])]
        runner = Runner(ds, cfg, force=force, log=log, scratch=scratch)
        runner.extra["ifg_executor"] = _IfgExecutor(coord)
        merged = runner.run_merged(start, end, **merged_inputs(results))
        for u in merged:
            u.details["rank"] = 0
        results.extend(merged)
        dead = coord.dead
        if dead:
            results.append(UnitResult(0, "job", "mpi", FAILED, 0.0, {"error": "; ".join(dead.values())}))
        return results
    finally:
        if coord.dead:
            log("[rank 0] a rank died; aborting the MPI job after reporting")
        else:
            coord.shutdown()


class _IfgExecutor:
    """``executor(fn, items) -> list`` for stage 6: spreads ``fn(item)`` over all ranks
    (``fn`` must pickle: a module-level function or a partial of one, as stage 6 passes)."""

    def __init__(self, coord: Coordinator):
        self.coord = coord

    def __call__(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        outs = self.coord.map(fn, [(it,) for it in items])
        for ok, res, r in outs:
            if not ok:
                from ..errors import StageError

                raise StageError(f"rank {r}: {res}")
        return [res for _, res, _ in outs]
