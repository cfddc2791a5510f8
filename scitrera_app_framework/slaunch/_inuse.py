"""Locks: the root's install lock, and the "in use" marks of running instances.

A running instance holds a *shared* lock on one lock file per directory it uses (its app version, libs, package
layer, environment build), for as long as it runs: the launcher takes the locks while it holds the root lock,
then hands the open files to the app's process (they stay locked while the app or the launcher has them open).
Retiring a directory takes an *exclusive* lock without waiting: when that fails, an instance still uses the
directory and it is kept for a later run. A crashed or killed process loses its locks with it (the kernel
releases them), so nothing stays marked forever.

POSIX uses ``fcntl.flock``. Windows has no shared locks: each holder locks one byte at its own offset of the
lock file and the in-use test tries to lock the whole range (``msvcrt.locking``); there the launcher keeps the
marks while it waits for the app (the app's process does not inherit them).
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional

from ._log import logger
from .errors import InstallError

LOCKS_DIR = '.locks'
_WIN_RANGE = 1 << 30


def lock_path(root: Path, rel_dir: str) -> Path:
    """Return the lock file that marks ``root/rel_dir`` as in use (``<root>/.locks/<rel_dir>.lock``)."""
    return root / LOCKS_DIR / (rel_dir + '.lock')


def _open(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(str(path), os.O_RDWR | os.O_CREAT, 0o644)


class InUse:
    """Shared locks held for a running instance (see the module docstring); :meth:`release` drops them."""

    def __init__(self) -> None:
        self._fds: List[int] = []

    @property
    def fds(self) -> List[int]:
        """The open lock file descriptors (passed to the app's process on POSIX)."""
        return list(self._fds)

    def hold(self, path: Path) -> None:
        """Take a shared lock on ``path`` (waiting while a retirement briefly holds it exclusively)."""
        fd = _open(path)
        try:
            if sys.platform == 'win32':
                import msvcrt

                os.lseek(fd, random.randrange(1, _WIN_RANGE), os.SEEK_SET)
                while True:
                    try:
                        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                        break
                    except OSError:
                        time.sleep(0.05)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_SH)
        except BaseException:
            os.close(fd)
            raise
        self._fds.append(fd)

    def release(self) -> None:
        """Close the lock files (the locks go away unless the app's process still has them open)."""
        fds, self._fds = self._fds, []
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def __del__(self) -> None:
        self.release()


@contextlib.contextmanager
def retiring(path: Path) -> Iterator[bool]:
    """Try to lock ``path`` exclusively without waiting; yield True if nothing uses it (the lock is held inside
    the block, so no instance can start using it meanwhile), False if a running instance holds it."""
    if not path.exists():
        yield True
        return
    fd = _open(path)
    try:
        if not _try_exclusive(fd):
            yield False
            return
        try:
            yield True
        finally:
            _unlock(fd, _WIN_RANGE)
    finally:
        os.close(fd)


def _try_exclusive(fd: int) -> bool:
    """Lock the whole lock file ``fd`` exclusively without waiting; False when anyone holds a lock on it."""
    try:
        if sys.platform == 'win32':
            import msvcrt

            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, _WIN_RANGE)
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _unlock(fd: int, size: int) -> None:
    """Drop this process's lock on the lock file ``fd`` (on Windows: the first ``size`` bytes, as locked)."""
    if sys.platform == 'win32':
        import msvcrt

        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, size)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def in_use(path: Path) -> bool:
    """Return True if a running instance holds the lock file ``path``."""
    with retiring(path) as free:
        return not free


@contextlib.contextmanager
def exclusive_root_lock(path: Path, doing: str = 'installing') -> Iterator[None]:
    """Hold the root's install lock (waiting, with one INFO line naming what the other slaunch is ``doing``).

    Raises:
        InstallError: the lock file cannot be opened or locked (a read-only file system, an NFS mount without
            lock support); chained to the OSError.
    """
    try:
        try:
            fd = os.open(str(path), os.O_RDWR | os.O_CREAT, 0o666)  # 0666 less the umask: shared by its users
        except PermissionError:
            if sys.platform == 'win32' or not path.is_file():
                raise
            fd = os.open(str(path), os.O_RDONLY)  # another user's lock file: flock needs no write access
    except OSError as exc:
        raise InstallError(f'cannot open the lock file {path}: {exc.strerror or exc}; is the root writable?') \
            from exc
    try:
        if sys.platform == 'win32':
            import msvcrt

            waited = False
            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                    break
                except OSError:
                    if not waited:
                        logger().info('waiting for another slaunch to finish %s in %s', doing, path.parent)
                        waited = True
                    time.sleep(0.2)
        else:
            import fcntl

            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    logger().info('waiting for another slaunch to finish %s in %s', doing, path.parent)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError as exc:  # e.g. EBADF: NFS emulates flock with write locks, refused on a read-only fd
                raise InstallError(f'cannot lock the lock file {path}: {exc.strerror or exc}; the root must be on '
                                   'a file system with working locks, writable by this user') from exc
        try:
            yield
        finally:
            _unlock(fd, 1)
    finally:
        os.close(fd)


def remove_lock_file(path: Path) -> Optional[str]:
    """Delete a lock file of a removed directory (under the root lock); return an error text or None."""
    try:
        path.unlink()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return str(exc)
    return None
