"""Fit progress: a tqdm bar on a terminal, plain timestamped lines otherwise
(logs, CI), nothing when disabled. Never affects the result."""

from __future__ import annotations

import sys
import time


class Progress:
    """Report (step, PSNR, Gaussian count, level) to stderr.

    mode: "auto" (bar on a TTY, lines otherwise), "bar", "lines" or "off";
    lines are printed at most every `every_s` seconds (and at the end).
    """

    def __init__(self, total: int, label: str = "fit", mode: str = "auto", every_s: float = 10.0, stream=None):
        self.stream = stream or sys.stderr
        if mode == "auto":
            mode = "bar" if getattr(self.stream, "isatty", lambda: False)() else "lines"
        self.mode, self.total, self.label, self.every_s = mode, total, label, every_s
        self.start = time.monotonic()
        self.last_line = -1e9
        self.bar = None
        if mode == "bar":
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=label, file=self.stream, dynamic_ncols=True, leave=True)

    def update(self, step: int, psnr: float, gaussians: int, level: str = ""):
        """Called after each step (step = number of steps done)."""
        if self.mode == "off":
            return
        shown = "--" if psnr != psnr else f"{psnr:.2f}"  # NaN before the first measurement
        if self.bar is not None:
            self.bar.n = step
            self.bar.set_postfix_str(f"PSNR {shown} dB, {gaussians} Gaussians {level}".rstrip(), refresh=False)
            self.bar.refresh()
            return
        now = time.monotonic()
        if now - self.last_line >= self.every_s or step >= self.total:
            self.last_line = now
            self.message(f"step {step}/{self.total} PSNR {shown} dB, {gaussians} Gaussians {level}".rstrip())

    def message(self, text: str):
        if self.mode == "off":
            return
        if self.bar is not None:
            self.bar.write(f"{self.label}: {text}", file=self.stream)
            return
        stamp = time.strftime("%H:%M:%S")
        print(f"[{stamp} +{time.monotonic() - self.start:6.1f}s] {self.label}: {text}", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
