"""A progress line for sweeps: configs and datasets done, rate, ETA (stdlib only).

On a terminal the line is redrawn in place at most 4 times a second; otherwise (a log file,
a batch job) a full line is printed every 30 seconds, so logs stay short.
"""

from __future__ import annotations

import time


def _duration(seconds: float) -> str:
    if seconds != seconds or seconds == float("inf"):
        return "?"
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    def __init__(self, configs: int, datasets: int, *, enabled: bool, stream):
        self.configs, self.datasets = configs, datasets
        self.configs_done = self.datasets_done = self.computed = 0
        self.enabled, self.stream = enabled, stream
        self.tty = enabled and getattr(stream, "isatty", lambda: False)()
        self.start = self.last = time.perf_counter()

    def line(self) -> str:
        elapsed = time.perf_counter() - self.start
        rate = self.computed / elapsed if elapsed > 0 else 0.0
        remaining = self.datasets - self.datasets_done
        eta = remaining / rate if rate > 0 else (0.0 if remaining == 0 else float("inf"))
        return (
            f"configs {self.configs_done}/{self.configs} | datasets "
            f"{self.datasets_done}/{self.datasets} | {rate:,.0f} datasets/s | "
            f"elapsed {_duration(elapsed)} | ETA {_duration(eta)}"
        )

    def advance(self, *, configs: int = 0, datasets: int = 0, computed: bool = True) -> None:
        self.configs_done += configs
        self.datasets_done += datasets
        if computed:
            self.computed += datasets
        if not self.enabled:
            return
        now = time.perf_counter()
        if now - self.last >= (0.25 if self.tty else 30.0):
            self.last = now
            self._draw()

    def _draw(self) -> None:
        if self.tty:
            self.stream.write("\r" + self.line() + "\x1b[K")
        else:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            if self.tty:
                self.stream.write("\n")
            self.stream.flush()
