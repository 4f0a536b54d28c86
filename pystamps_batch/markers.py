"""Completion markers: what a unit wrote, from which inputs and parameters.

Each unit folder has ``.pystamps/``. While a unit runs it holds
``stage-<label>.running``; when every output is published, ``stage-<label>.json``
is written (atomically, last) with the outputs' sizes, mtimes and SHA-256, the
fingerprints of the inputs it read, the StaMPS parameters it used, the kernels
that ran and the pystamps version; then the running marker is removed.

:func:`unit_state` tells whether a unit is complete:

- a running marker left behind (a killed run)  -> ``interrupted``;
- an output missing                            -> ``missing``;
- outputs but no marker at all (e.g. produced by StaMPS itself) -> ``complete``
  ("foreign": trusted, as the seed's skip rule does);
- an output changed since it was written       -> ``stale``;
- an input or a parameter changed              -> ``stale`` (the reason names it);
- otherwise                                     -> ``complete``.

Inputs are the files the unit reads: for stage 1 the prepared dataset files, for
later units the outputs of the units they depend on (taken from those units'
markers, so nothing large is re-hashed when unchanged).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import __version__

MARKER_DIR = ".pystamps"
_CHUNK = 1 << 20


def marker_dir(folder: Path) -> Path:
    return Path(folder) / MARKER_DIR


def done_path(folder: Path, label: str) -> Path:
    return marker_dir(folder) / f"stage-{label}.json"


def running_path(folder: Path, label: str) -> Path:
    return marker_dir(folder) / f"stage-{label}.running"


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(_CHUNK)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def file_fp(path: Path, *, digest: bool = True) -> dict[str, Any]:
    st = path.stat()
    d = {"size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if digest:
        d["sha256"] = sha256(path)
    return d


def same_file(path: Path, fp: dict[str, Any]) -> bool:
    """True if ``path`` still has fingerprint ``fp`` (re-hashed only when size/mtime moved)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    if st.st_size != fp.get("size"):
        return False
    if st.st_mtime_ns == fp.get("mtime_ns") or "sha256" not in fp:
        return True
    return sha256(path) == fp["sha256"]


def _jsonable(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def params_subset(params: Any, names: Iterable[str]) -> dict[str, Any]:
    return {n: _jsonable(params.get(n)) for n in names}


def _atomic_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def mark_running(folder: Path, label: str) -> None:
    _atomic_json(running_path(folder, label), {"pid": os.getpid(), "host": socket.gethostname(),
                                               "started": time.time()})


def clear(folder: Path, label: str) -> None:
    """Remove both markers of a unit (its outputs are being replaced or removed)."""
    for p in (done_path(folder, label), running_path(folder, label)):
        p.unlink(missing_ok=True)


def write_done(folder: Path, label: str, *, function: str, outputs: list[Path], inputs: dict[str, Any],
               params: dict[str, Any], kernels: dict[str, str]) -> None:
    data = {
        "label": label, "function": function, "version": __version__, "completed": time.time(),
        "host": socket.gethostname(),
        "outputs": {p.name: file_fp(p) for p in outputs},
        "inputs": inputs, "params": params, "kernels": kernels,
    }
    _atomic_json(done_path(folder, label), data)
    running_path(folder, label).unlink(missing_ok=True)


def read_done(folder: Path, label: str) -> dict[str, Any] | None:
    p = done_path(folder, label)
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None                                    # a damaged marker counts as absent


@dataclass
class State:
    status: str                  # complete | missing | interrupted | stale
    reason: str = ""
    foreign: bool = False

    @property
    def complete(self) -> bool:
        return self.status == "complete"


def raw_inputs_fp(paths: Iterable[Path], root: Path) -> dict[str, Any]:
    """Fingerprints of prepared-dataset files, keyed by path relative to ``root``."""
    out = {}
    for p in sorted(set(paths)):
        if p.is_file():
            try:
                key = str(p.relative_to(root))
            except ValueError:
                key = str(p)
            out[key] = file_fp(p)
    return out


def inputs_changed(recorded: dict[str, Any], current: dict[str, Any], root: Path) -> str | None:
    """Why recorded input fingerprints differ from the current ones (None if equal).

    ``current`` values for raw files may lack sha256: they are compared by
    :func:`same_file` against the recorded ones."""
    for key in sorted(set(recorded) | set(current)):
        if key not in current:
            return f"input {key} no longer exists"
        if key not in recorded:
            return f"new input {key}"
        r, c = recorded[key], current[key]
        if isinstance(r, dict) and "size" in r:
            p = Path(key) if os.path.isabs(key) else root / key
            if not same_file(p, r):
                return f"input {key} changed"
        elif r != c:
            return f"input {key} changed"
    return None


def params_changed(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    for k in sorted(set(recorded) | set(current)):
        if recorded.get(k) != current.get(k):
            return f"parameter {k} changed ({recorded.get(k)!r} -> {current.get(k)!r})"
    return None
