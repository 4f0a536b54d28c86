"""The native per-patch engine of the MPI driver (``runtime.patch_engine: native``).

A rank hands its patch to the standalone ``pystamps-native`` binary instead of this
package's runner: ``pystamps-native run --native-only --patch PATCH_n`` with the same
stage range, config file and worker counts. Both runners write the same artifacts and
completion markers and report units in the same JSON shape, so the merged stages on
rank 0 (and any later rerun, by either runner) see no difference; the results are
strict-equal (``tests/test_mpi.py``).

The binary is ``$PYSTAMPS_NATIVE`` if set, else ``pystamps-native`` on PATH, else the
repository's ``target/release/pystamps-native`` (``cargo build --release -p
pystamps-native``). Rank 0 holds the dataset locks for the whole job; it passes its
``host:pid`` in ``PYSTAMPS_LOCK_HELD_BY`` so that the binary works inside them.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError, StageError

NATIVE_ENV = "PYSTAMPS_NATIVE"
HELD_BY_ENV = "PYSTAMPS_LOCK_HELD_BY"
REPO = Path(__file__).resolve().parents[2]
#: the last per-patch stage (5a); the native binary runs no merged stage with --patch
LAST_PATCH_STAGE = 5


def locate_native() -> str:
    """Path of the ``pystamps-native`` executable, or ConfigError (one line) naming the ways to provide it."""
    env = os.environ.get(NATIVE_ENV, "").strip()
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise ConfigError(f"runtime.patch_engine: native: {NATIVE_ENV}={env} is not an executable file")
        return env
    found = shutil.which("pystamps-native")
    if found:
        return found
    built = REPO / "target" / "release" / "pystamps-native"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    raise ConfigError("runtime.patch_engine: native: pystamps-native not found (build it with "
                      f"`cargo build --release -p pystamps-native`, put it on PATH or set {NATIVE_ENV})")


def check_native_engine(cfg) -> str:
    """Validate a native-engine config before anything runs; returns the executable."""
    rt = cfg.runtime
    python_kernels = [k for k, b in rt.kernel_backend_overrides.items() if b == "python"]
    if "python" in (rt.backend, rt.stage2_kernel_backend) or python_kernels:
        raise ConfigError("runtime.patch_engine: native runs native kernels only; set runtime.backend and "
                          "runtime.stage2_kernel_backend to auto or native and drop python kernel overrides")
    return locate_native()


def lock_holder() -> str:
    """``host:pid`` of this process as written in its lock files (see :mod:`pystamps_batch.lock`)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def native_command(exe: str, root: str, cfg, patch: str, start: int, end: int, force: bool) -> list[str]:
    """The ``pystamps-native run`` argument list for one patch's stages ``start..min(end, 5)``."""
    rt = cfg.runtime
    cmd = [exe, "run", "--native-only", "--json", "--dataset", str(root), "--patch", patch,
           "--start-step", str(start), "--end-step", str(min(end, LAST_PATCH_STAGE)),
           "--backend", rt.backend, "--stage2-kernel-backend", rt.stage2_kernel_backend,
           "--cpu-workers", str(rt.cpu_workers), "--stage2-native-threads", str(rt.stage2_native_threads)]
    if cfg.source:
        cmd += ["--config", str(cfg.source)]
    if force:
        cmd.append("--force")
    return cmd


def run_native_patch(root: str, cfg, patch: str, start: int, end: int, force: bool, holder: str | None,
                     log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Run one patch with ``pystamps-native``; its log lines go to ``log`` as they come.

    Returns the unit reports (``UnitResult.to_json()`` dicts). A failed stage is a unit
    with status ``failed`` (exit status 1), as with the Python engine; anything else that
    stops the binary raises StageError with its last message.
    """
    exe = check_native_engine(cfg)
    env = dict(os.environ)
    if holder:
        env[HELD_BY_ENV] = holder
    cmd = native_command(exe, root, cfg, patch, start, end, force)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env)
    last: list[str] = []

    def pump() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            line = line.rstrip("\n")
            if line:
                last[:] = [line]
                log(line)

    t = threading.Thread(target=pump, daemon=True)
    t.start()
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.wait()
    t.join()
    if proc.returncode not in (0, 1):
        why = last[0] if last else "no message"
        raise StageError(f"pystamps-native failed on {patch} (exit status {proc.returncode}): {why}")
    try:
        units = json.loads(out)
    except json.JSONDecodeError:
        raise StageError(f"pystamps-native on {patch}: unreadable JSON report ({out[:200]!r})") from None
    for u in units:
        u.setdefault("details", {})["engine"] = "pystamps-native"
    return units
