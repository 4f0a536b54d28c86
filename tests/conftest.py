import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pystamps_batch  # noqa: E402,F401  (pins numpy's CPU dispatch before any test imports numpy)
