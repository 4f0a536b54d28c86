"""YAML run configuration -> a validated, typed :class:`RunConfig`.

Schema (the seed's)::

    runtime:
      backend: auto | python | native           # default backend for every kernel
      stage2_kernel_backend: auto | python | native
      stage2_native_threads: 0                   # >= 0; 0 = all cores this process may use
      kernel_backend_overrides: {kernel_name: python | native}
      io_workers: 8                              # >= 1
      cpu_workers: 0                             # >= 0; 0 = all cores this process may use
      patch_engine: python | native              # what runs each patch's stages under MPI
    stamps:                                      # StaMPS parameter overrides (spec B.2 names)
      clap_win: 32
      ...

Every unknown key, unknown kernel name and bad value is rejected before anything
runs, with one line naming the key and the allowed values (:class:`ConfigError`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .kernels.names import KERNEL_NAMES
from .params import DEFAULTS, coerce_value

BACKENDS = ("auto", "python", "native")
OVERRIDE_BACKENDS = ("python", "native")
RUNTIME_KEYS = ("backend", "stage2_kernel_backend", "stage2_native_threads",
                "kernel_backend_overrides", "io_workers", "cpu_workers", "patch_engine")
#: per-patch engines of the MPI driver: this package's runner, or the `pystamps-native` binary
PATCH_ENGINES = ("python", "native")
TOP_KEYS = ("runtime", "stamps")


@dataclass(frozen=True)
class RuntimeConfig:
    """How to run: kernel backends and worker counts."""

    backend: str = "auto"
    stage2_kernel_backend: str = "auto"
    stage2_native_threads: int = 0
    kernel_backend_overrides: dict[str, str] = field(default_factory=dict)
    io_workers: int = 8
    cpu_workers: int = 0
    #: under MPI, what runs each patch's stages: "python" (this package's runner) or
    #: "native" (the ``pystamps-native`` binary, see :mod:`pystamps_batch.driver.native`)
    patch_engine: str = "python"


@dataclass(frozen=True)
class RunConfig:
    """The whole config: runtime settings plus StaMPS parameter overrides."""

    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    stamps: dict[str, Any] = field(default_factory=dict)
    source: str | None = None


def _where(src: str | None, key: str) -> str:
    return f"{src}: {key}" if src else key


def _int_at_least(value: Any, key: str, low: int, src: str | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{_where(src, key)}: got {value!r}, expected an integer >= {low}")
    return value


def _choice(value: Any, key: str, allowed: tuple[str, ...], src: str | None) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise ConfigError(f"{_where(src, key)}: got {value!r}, expected one of {', '.join(allowed)}")
    return value


def parse_config(data: Any, source: str | None = None) -> RunConfig:
    """Validate a parsed YAML mapping and build a :class:`RunConfig`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source or 'config'}: top level must be a mapping with keys {', '.join(TOP_KEYS)}")
    for k in data:
        if k not in TOP_KEYS:
            raise ConfigError(f"{_where(source, str(k))}: unknown key, expected one of {', '.join(TOP_KEYS)}")
    rt = data.get("runtime") or {}
    if not isinstance(rt, dict):
        raise ConfigError(f"{_where(source, 'runtime')}: expected a mapping")
    for k in rt:
        if k not in RUNTIME_KEYS:
            raise ConfigError(f"{_where(source, 'runtime.' + str(k))}: unknown key, expected one of {', '.join(RUNTIME_KEYS)}")
    d = RuntimeConfig()
    backend = _choice(rt.get("backend", d.backend), "runtime.backend", BACKENDS, source)
    s2 = _choice(rt.get("stage2_kernel_backend", d.stage2_kernel_backend),
                 "runtime.stage2_kernel_backend", BACKENDS, source)
    s2t = _int_at_least(rt.get("stage2_native_threads", d.stage2_native_threads),
                        "runtime.stage2_native_threads", 0, source)
    iow = _int_at_least(rt.get("io_workers", d.io_workers), "runtime.io_workers", 1, source)
    cpw = _int_at_least(rt.get("cpu_workers", d.cpu_workers), "runtime.cpu_workers", 0, source)
    ov_raw = rt.get("kernel_backend_overrides") or {}
    if not isinstance(ov_raw, dict):
        raise ConfigError(f"{_where(source, 'runtime.kernel_backend_overrides')}: expected a mapping of kernel name to backend")
    overrides: dict[str, str] = {}
    for name, b in ov_raw.items():
        if name not in KERNEL_NAMES:
            raise ConfigError(f"{_where(source, 'runtime.kernel_backend_overrides.' + str(name))}: "
                              f"unknown kernel, expected one of {', '.join(KERNEL_NAMES)}")
        overrides[name] = _choice(b, f"runtime.kernel_backend_overrides.{name}", OVERRIDE_BACKENDS, source)
    st_raw = data.get("stamps") or {}
    if not isinstance(st_raw, dict):
        raise ConfigError(f"{_where(source, 'stamps')}: expected a mapping of StaMPS parameter names to values")
    stamps: dict[str, Any] = {}
    for name, v in st_raw.items():
        if name not in DEFAULTS:
            raise ConfigError(f"{_where(source, 'stamps.' + str(name))}: unknown StaMPS parameter "
                              f"(see 'pystamps params' or spec B.2 for the names)")
        try:
            cv = coerce_value(name, v)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{_where(source, 'stamps.' + name)}: {exc}") from None
        if isinstance(cv, float) and math.isnan(cv):
            raise ConfigError(f"{_where(source, 'stamps.' + name)}: NaN is not allowed")
        stamps[name] = cv
    engine = _choice(rt.get("patch_engine", d.patch_engine), "runtime.patch_engine", PATCH_ENGINES, source)
    return RunConfig(RuntimeConfig(backend, s2, s2t, overrides, iow, cpw, engine), stamps, source)


def load_config(path: str | Path | None) -> RunConfig:
    """Read and validate a YAML (or JSON) config file; ``None`` gives the defaults."""
    if path is None:
        return RunConfig()
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{p}: config file not found")
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config ({exc.strerror})") from None
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}: not valid YAML{where}") from None
    return parse_config(data, str(p))
