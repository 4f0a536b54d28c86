"""Progress for long runs: a bar on a terminal, plain periodic percentage lines in batch logs."""
from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``p = Progress(total, "stage 6 interferograms"); p.advance(); ...; p.close()``.

    On a TTY it redraws one ``[####      ] 40% 8/20 label`` line; otherwise it prints a
    line at every ``step`` percent (and at least every ``every`` seconds).
    """

    def __init__(self, total: int, label: str, *, stream: TextIO | None = None, step: int = 10,
                 every: float = 60.0):
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.step = step
        self.every = every
        self.done = 0
        self._last_pct = -1
        self._last_t = time.monotonic()

    def advance(self, k: int = 1) -> None:
        self.done = min(self.total, self.done + k)
        pct = 100 if self.total == 0 else int(100 * self.done / self.total)
        now = time.monotonic()
        if self.tty:
            bar = "#" * (pct // 5) + " " * (20 - pct // 5)
            self.stream.write(f"\r[{bar}] {pct:3d}% {self.done}/{self.total} {self.label}")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()
        elif pct // self.step > self._last_pct // self.step or now - self._last_t > self.every or \
                self.done == self.total:
            if pct != self._last_pct:
                self.stream.write(f"{self.label}: {pct}% ({self.done}/{self.total})\n")
                self.stream.flush()
            self._last_pct, self._last_t = pct, now

    def close(self) -> None:
        if self.tty and self.done < self.total:
            self.stream.write("\n")
            self.stream.flush()
