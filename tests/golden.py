"""Locating the golden datasets for tests (skip cleanly when absent)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def golden_root() -> Path:
    return Path(os.environ.get("PYSTAMPS_GOLDEN", REPO.parent / "shared" / "golden"))


def golden_dir(name: str) -> Path:
    """``<golden>/<name>`` (with ``input/`` and ``stamps/``), or skip the test."""
    d = golden_root() / name
    if not (d / "input").is_dir() or not (d / "stamps").is_dir():
        pytest.skip(f"golden dataset {name} not available at {d}")
    return d


def golden_params(name: str):
    """StaMPS parameters as the golden run completed them (stamps/parms.mat)."""
    from pystamps_batch.io.matfile import load_mat
    from pystamps_batch.params import DEFAULTS, Params, coerce_value

    raw = load_mat(golden_dir(name) / "stamps" / "parms.mat")
    vals = {k: coerce_value(k, v) for k, v in raw.items() if k in DEFAULTS}
    return Params(vals)
