import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pystamps_batch  # noqa: E402,F401  (pins numpy's CPU dispatch before any test imports numpy)

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def native_bin():
    """target/release/pystamps-native, built once per session when stale (see native_bin.py)."""
    from native_bin import built_binary

    return built_binary()
