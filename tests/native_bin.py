"""The standalone runner binary for tests: target/release/pystamps-native, built with cargo
when missing or older than its sources (tests skip only when cargo is not installed)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / "target" / "release" / "pystamps-native"


def newest_source() -> float:
    """Modification time of the newest Rust source or manifest of the workspace."""
    files = list((REPO / "native").rglob("*.rs")) + list((REPO / "native").rglob("Cargo.toml"))
    files += [REPO / "Cargo.toml", REPO / "Cargo.lock"]
    return max(f.stat().st_mtime for f in files if f.is_file())


def built_binary() -> Path:
    """The binary, (re)built first if stale; pytest.skip when cargo is absent."""
    if not BIN.is_file() or BIN.stat().st_mtime < newest_source():
        if shutil.which("cargo") is None:
            pytest.skip("cargo not installed: cannot build pystamps-native")
        r = subprocess.run(["cargo", "build", "--release", "-p", "pystamps-native"], cwd=REPO,
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-3000:]
    return BIN


def native(bin_: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the binary; with ``check`` assert exit 0 (stderr tail in the message)."""
    r = subprocess.run([str(bin_), *args], capture_output=True, text=True)
    if check:
        assert r.returncode == 0, f"pystamps-native {' '.join(args)}: rc {r.returncode}\n{r.stderr[-3000:]}"
    return r
