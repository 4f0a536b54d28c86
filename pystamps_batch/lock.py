"""One run at a time per dataset: ``<root>/.pystamps/lock`` holding pid, host and start time.

A second run gets a clear error naming the holder. A lock whose pid is dead on this
host is stale and is taken over with a warning; a lock held from another host is
never broken automatically (remove the file by hand if that host is gone).
"""
from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from pathlib import Path
from typing import Callable, Iterator

from .errors import InputError

LOCK_NAME = "lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@contextlib.contextmanager
def dataset_lock(root: Path, *, warn: Callable[[str], None] = lambda m: None,
                 command: str = "run") -> Iterator[Path]:
    """Hold the dataset's lock for the duration of the ``with`` block."""
    d = Path(root) / ".pystamps"
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{d}: cannot create the run folder ({exc.strerror}); is the dataset writable?") from None
    path = d / LOCK_NAME
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "command": command}
    for _ in range(3):
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            held = _read(path)
            pid, host = held.get("pid"), held.get("host")
            if host == socket.gethostname() and isinstance(pid, int) and not _alive(pid):
                warn(f"warning: taking over a stale lock of pid {pid} on {host} ({path})")
                path.unlink(missing_ok=True)
                continue
            if not held:                      # unreadable: a lock being written right now, or junk
                time.sleep(0.2)
                held = _read(path)
                if not held:
                    raise InputError(f"{path}: unreadable lock file; remove it if no run is active")
            since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(held.get("started", 0)))
            raise InputError(f"{root}: another pystamps {held.get('command', 'run')} holds the lock "
                             f"(pid {held.get('pid')} on {held.get('host')}, since {since}; lock file {path})")
        except OSError as exc:
            raise InputError(f"{path}: cannot create the lock ({exc.strerror}); is the dataset writable?") from None
        with os.fdopen(fd, "w") as fh:
            json.dump(me, fh)
            fh.flush()
            os.fsync(fh.fileno())
        break
    else:
        raise InputError(f"{path}: could not take the dataset lock")
    try:
        yield path
    finally:
        if _read(path).get("pid") == me["pid"]:
            path.unlink(missing_ok=True)


@contextlib.contextmanager
def locked(ds, patches: list[str] | None = None, *, warn: Callable[[str], None] = lambda m: None,
           command: str = "run") -> Iterator[None]:
    """The locks a run needs: a whole-dataset run holds the root's and every patch's lock;
    a ``--patch`` run (a Slurm array task) only its patches' locks, so that array tasks of
    different patches run side by side while any overlap is refused."""
    folders = [ds.root] + [p.path for p in ds.patches] if patches is None else \
        [ds.patch(n).path for n in patches]
    with contextlib.ExitStack() as stack:
        for f in folders:
            stack.enter_context(dataset_lock(f, warn=warn, command=command))
        yield
