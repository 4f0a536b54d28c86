"""How many CPU cores this process may use (affinity and cgroup quotas honoured).

Under Slurm (cgroup/affinity) or a container with a CPU quota, ``os.cpu_count()``
over-reports; ``cpu_budget()`` is what ``cpu_workers: 0`` and
``stage2_native_threads: 0`` resolve to.
"""
from __future__ import annotations

import math
import os
from pathlib import Path


def _cgroup_quota() -> float | None:
    v2 = Path("/sys/fs/cgroup/cpu.max")
    try:
        if v2.is_file():
            quota, period = v2.read_text().split()[:2]
            if quota != "max":
                return int(quota) / int(period)
            return None
        q = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
        p = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
        if q.is_file() and p.is_file():
            quota, period = int(q.read_text()), int(p.read_text())
            if quota > 0 and period > 0:
                return quota / period
    except (OSError, ValueError):
        return None
    return None


def cpu_budget() -> int:
    """Cores available to this process: min(affinity, cgroup quota, cpu_count), >= 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    q = _cgroup_quota()
    if q is not None:
        n = min(n, max(1, math.floor(q)))
    return max(1, n)


def resolve_workers(requested: int) -> int:
    """0 -> :func:`cpu_budget`; otherwise the requested count."""
    return cpu_budget() if requested <= 0 else requested
