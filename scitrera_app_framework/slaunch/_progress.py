"""Progress of long steps (environment builds, package installs, copies): a bar on an interactive terminal,
INFO lines otherwise.

``SLAUNCH_PROGRESS`` chooses: ``auto`` (default: a bar when stderr is a terminal, else log lines), ``bar``,
``log`` or ``off``. Log lines go to the ``scitrera_app_framework.slaunch`` logger: one when a step starts, one
per quarter of a step whose size is known, and one when it ends (with the time it took).
"""

from __future__ import annotations

import os
import sys
import time
from typing import IO, Any, Optional

from ._log import progress_logger as logger

PROGRESS_ENV_VAR = 'SLAUNCH_PROGRESS'
_MODES = ('auto', 'bar', 'log', 'off')
_WIDTH = 24
_SPIN = '|/-\\'
_QUIET_S = 2.0  # a step shorter than this gets no percentage lines


def progress_mode(stream: Optional[IO[str]] = None) -> str:
    """Return ``'bar'``, ``'log'`` or ``'off'`` from ``$SLAUNCH_PROGRESS`` and whether ``stream`` (default
    stderr) is a terminal. An unknown value counts as ``auto``."""
    mode = os.environ.get(PROGRESS_ENV_VAR, 'auto').strip().lower() or 'auto'
    if mode not in _MODES:
        mode = 'auto'
    if mode != 'auto':
        return mode
    out = stream if stream is not None else sys.stderr
    try:
        return 'bar' if out is not None and out.isatty() else 'log'
    except (AttributeError, ValueError, OSError):
        return 'log'


def _size(n: float, unit: str) -> str:
    if unit != 'bytes':
        return f'{int(n)}'
    for suffix in ('B', 'kB', 'MB', 'GB'):
        if n < 1024 or suffix == 'GB':
            return f'{n:.0f} {suffix}' if suffix == 'B' else f'{n:.1f} {suffix}'
        n /= 1024
    return f'{n:.1f} GB'  # pragma: no cover


class Progress:
    """One step's progress. Use as a context manager; :meth:`advance` for known totals, :meth:`note` for tool
    output lines (shown on the bar; only the last one matters)."""

    def __init__(self, what: str, total: Optional[float] = None, unit: str = 'files',
                 stream: Optional[IO[str]] = None, mode: Optional[str] = None) -> None:
        self.what = what
        self.total = total if total else None
        self.unit = unit
        self.stream = stream if stream is not None else sys.stderr
        self.mode = mode or progress_mode(self.stream)
        self.done = 0.0
        self._note = ''
        self._started = time.monotonic()
        self._drawn = 0.0
        self._quarter = 0
        self._spin = 0
        self._width = 0

    def __enter__(self) -> Progress:
        if self.mode == 'log':
            size = f' ({_size(self.total, self.unit)} {self.unit})' if self.total and self.unit != 'bytes' \
                else f' ({_size(self.total, self.unit)})' if self.total else ''
            logger().info('%s%s ...', self.what, size)
        elif self.mode == 'bar':
            self._draw(force=True)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish(ok=exc_type is None)

    def advance(self, amount: float = 1) -> None:
        """Count ``amount`` more units done."""
        self.done += amount
        if self.mode == 'bar':
            self._draw()
        elif self.mode == 'log' and self.total:
            quarter = int(4 * min(self.done, self.total) / self.total)
            if 0 < quarter < 4 and quarter > self._quarter and time.monotonic() - self._started >= _QUIET_S:
                self._quarter = quarter
                logger().info('%s: %d%% (%s of %s)', self.what, 25 * quarter, _size(self.done, self.unit),
                              _size(self.total, self.unit))

    def note(self, text: str) -> None:
        """Show ``text`` (e.g. the last line of a tool's output) on the bar."""
        self._note = ' '.join(text.split())
        if self.mode == 'bar':
            self._draw()

    def finish(self, ok: bool = True) -> None:
        """End the step: clear the bar / log how long it took."""
        elapsed = time.monotonic() - self._started
        if self.mode == 'bar':
            line = f'{self.what}: {"done" if ok else "failed"} in {elapsed:.1f}s'
            self._write('\r' + line.ljust(self._width) + '\n')
        elif self.mode == 'log':
            if ok:
                logger().info('%s: done in %.1fs', self.what, elapsed)
            else:
                logger().info('%s: failed after %.1fs', self.what, elapsed)
        self.mode = 'off'

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        if self.total:
            frac = min(self.done / self.total, 1.0)
            filled = int(frac * _WIDTH)
            line = (f'{self.what} [{"#" * filled}{"-" * (_WIDTH - filled)}] {frac * 100:3.0f}% '
                    f'{_size(self.done, self.unit)}/{_size(self.total, self.unit)}')
        else:
            self._spin = (self._spin + 1) % len(_SPIN)
            line = f'{self.what} {_SPIN[self._spin]} {now - self._started:.0f}s'
            if self._note:
                line += f' {self._note[:60]}'
        self._width = max(self._width, len(line))
        self._write('\r' + line.ljust(self._width))

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (AttributeError, ValueError, OSError):
            self.mode = 'off'
