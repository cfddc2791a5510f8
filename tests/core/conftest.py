"""Child interpreters for tests of signals, exit codes and other process-global behaviour.

Each child starts with SIGINT at Python's default handler whatever disposition pytest inherited (a suite run
under ``nohup`` or as a background job inherits SIGINT ignored), so the tests do not depend on it.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME',)

PROLOGUE = """
import os, signal, sys, threading, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as if started from a terminal
from scitrera_app_framework import Plugin, init_framework, register_plugin, register_shutdown_function

def say(s):  # one write per line: a signal that unwinds the main thread never leaves half a line
    sys.stdout.write(s + '\\n')
    sys.stdout.flush()

class NoisyPlugin(Plugin):
    eager = True
    def initialize(self, v, logger):
        return 'value'
    def shutdown(self, v, logger, value):
        say('plugin-shutdown ' + value)
"""


class Child:
    """A child interpreter running ``PROLOGUE + code``; its stdout lines can be awaited, stderr goes to a file."""

    def __init__(self, code: str, cwd: Path, env: dict[str, str], prologue: str = PROLOGUE) -> None:
        full = {k: val for k, val in os.environ.items() if not k.startswith(_ENV_PREFIXES) and k not in _ENV_KEYS}
        full.update(env)
        self._err_path = cwd / f'stderr-{id(self)}.txt'
        self._err = open(self._err_path, 'w')
        self.proc = subprocess.Popen([sys.executable, '-c', prologue + textwrap.dedent(code)], cwd=cwd, env=full,
                                     stdout=subprocess.PIPE, stderr=self._err, text=True)
        self.lines: list[str] = []
        self._q: queue.Queue[Optional[str]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip('\n')
            self.lines.append(line)
            self._q.put(line)
        self._q.put(None)

    def wait_for(self, text: str, timeout: float = 20) -> str:
        """Wait for a stdout line equal to (or, ending in ``*``, starting with) ``text``; return the line."""
        deadline = time.monotonic() + timeout
        prefix = text[:-1] if text.endswith('*') else None
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._q.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                pytest.fail(f'child did not print {text!r} within {timeout}s; stdout so far: {self.lines}, '
                            f'stderr: {self.stderr()}')
            if line is None:
                pytest.fail(f'child exited before printing {text!r}: rc={self.proc.wait()}, stdout={self.lines}, '
                            f'stderr={self.stderr()}')
            if line == text or (prefix is not None and line.startswith(prefix)):
                return line

    def wait_for_stderr(self, text: str, timeout: float = 20) -> None:
        """Wait until ``text`` appears in the child's stderr (polled with a deadline: stderr goes to a file)."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if self.proc.poll() is not None and text not in self.stderr():
                pytest.fail(f'child exited before writing {text!r} to stderr: rc={self.proc.returncode}, '
                            f'stdout={self.lines}, stderr={self.stderr()}')
            if time.monotonic() > deadline:
                pytest.fail(f'child did not write {text!r} to stderr within {timeout}s; stdout={self.lines}, '
                            f'stderr={self.stderr()}')
            time.sleep(0.01)  # polling a file, with the deadline above

    def send(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def finish(self, timeout: float = 30) -> int:
        """Wait for the child to exit (failing the test if it does not) and return its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            pytest.fail(f'child still running after {timeout}s; stdout={self.lines}, stderr={self.stderr()}')
        self._reader.join(5)
        return rc

    def after(self, marker: str = 'ready') -> list[str]:
        """The stdout lines after the line ``marker``."""
        return self.lines[self.lines.index(marker) + 1:]

    def stderr(self) -> str:
        self._err.flush()
        return self._err_path.read_text()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._err.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """``spawn(code, **env)`` starts a child interpreter; every child is killed at the end of the test."""
    children: list[Child] = []

    def _spawn(code: str, **env: str) -> Child:
        c = Child(code, tmp_path, env)
        children.append(c)
        return c

    yield _spawn
    for c in children:
        c.close()
