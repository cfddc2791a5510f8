"""``watch=True`` on file sources against the ways files really change: an atomic replace (``write new; rename
over``, as vim, ``sed -i``, Ansible and ``mv`` do), a delete and re-create, and a Kubernetes ConfigMap volume
(``app.yaml`` a link into ``..data``, ``..data`` a link swapped to a new timestamped directory). Each is done
several times in a row; the tests wait on the reload callback (and on the warning for a vanished file)."""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.core.util import add_file_source, stop_watching

pytestmark = pytest.mark.needs_watchfiles

TIMEOUT = 20.0


@pytest.fixture(autouse=True)
def _stop_watchers() -> Iterator[None]:
    yield
    stop_watching()
    assert not [t for t in threading.enumerate() if t.name.startswith('saf-watch:')]


class Watched:
    """A Variables with a watched file source; :meth:`expect` waits for a reload that gives ``level``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.v = Variables()
        self.reloads: queue.Queue[set[str]] = queue.Queue()
        self.v.on_reload(self.reloads.put)
        add_file_source(path, self.v, watch=True)

    def expect(self, value: str) -> None:
        seen: list[Any] = []
        while True:
            try:
                seen.append(self.reloads.get(timeout=TIMEOUT))
            except queue.Empty:
                raise AssertionError(f'{self.path}: no reload gave level={value!r} within {TIMEOUT}s (reloads: '
                                     f'{seen}, level now {self.v.get("level")!r})') from None
            if self.v.get('level') == value:
                return


class Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: queue.Queue[logging.LogRecord] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.put(record)

    def expect(self, *words: str) -> str:
        while True:
            try:
                record = self.records.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f'no warning with {words} within {TIMEOUT}s') from None
            message = record.getMessage()
            if all(w in message for w in words):
                assert record.levelno == logging.WARNING, message
                return message


@pytest.fixture
def warnings() -> Iterator[Warnings]:
    handler = Warnings()
    logger = logging.getLogger('saf.config')
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


def _replace(path: Path, text: str) -> None:
    """What vim, sed -i, Ansible and mv do: write a new file beside, then rename it over the old one."""
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(text)
    os.replace(tmp, path)


def test_every_atomic_replace_is_seen(tmp_path: Path) -> None:
    p = tmp_path / 'app.yaml'
    p.write_text('level: L0\n')
    w = Watched(p)
    assert w.v.get('level') == 'L0'
    for i in range(1, 5):
        _replace(p, f'level: L{i}\n')
        w.expect(f'L{i}')


def test_a_deleted_file_is_logged_and_its_return_seen(tmp_path: Path, warnings: Warnings) -> None:
    p = tmp_path / 'app.yaml'
    p.write_text('level: L0\n')
    w = Watched(p)
    for i in range(1, 4):
        p.unlink()
        message = warnings.expect(str(p), 'last good values')
        assert w.v.get('level') == f'L{i - 1}', message  # the last good values stay
        p.write_text(f'level: L{i}\n')
        w.expect(f'L{i}')
    _replace(p, 'level: after\n')  # and the other kinds of change still work afterwards
    w.expect('after')


def _configmap(root: Path, n: int, text: str) -> None:
    """One kubelet update of a ConfigMap volume: a new timestamped directory, ``..data`` swapped to it by a rename
    of a new link, the old directory removed."""
    new = root / f'..2026_12_07_00_00_0{n}.{n:04d}'
    new.mkdir()
    (new / 'app.yaml').write_text(text)
    old = os.readlink(root / '..data') if (root / '..data').is_symlink() else None
    tmp = root / '..data_tmp'
    os.symlink(new.name, tmp)
    os.replace(tmp, root / '..data')
    if not (root / 'app.yaml').is_symlink():
        os.symlink('..data/app.yaml', root / 'app.yaml')
    if old is not None:
        shutil.rmtree(root / old)


def test_a_kubernetes_configmap_volume_swap_is_seen_every_time(tmp_path: Path) -> None:
    root = tmp_path / 'config'
    root.mkdir()
    _configmap(root, 0, 'level: L0\n')
    w = Watched(root / 'app.yaml')
    assert w.v.get('level') == 'L0'
    for i in range(1, 5):
        _configmap(root, i, f'level: L{i}\n')
        w.expect(f'L{i}')
    assert [n for n in os.listdir(root) if n.startswith('..2026')] == ['..2026_12_07_00_00_04.0004']


def test_unrelated_files_beside_do_not_reload(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.util.config_sources import FileSource

    p = tmp_path / 'app.yaml'
    p.write_text('level: L0\n')
    calls: list[str] = []
    original = FileSource.reload

    def counting(self: FileSource) -> set[str]:
        calls.append(self.path)
        return original(self)

    monkeypatch.setattr(FileSource, 'reload', counting)
    w = Watched(p)
    for i in range(5):
        (tmp_path / f'other-{i}.log').write_text('noise\n')
    _replace(p, 'level: L1\n')
    w.expect('L1')
    assert len(calls) <= 2, calls  # the file's own change (perhaps split in two batches), not the noise


def test_a_watched_secrets_volume_sees_every_swap(tmp_path: Path) -> None:
    from scitrera_app_framework.core.util import add_secrets_dir_source

    root = tmp_path / 'secrets'
    root.mkdir()

    def swap(n: int, value: str) -> None:
        new = root / f'..2026_12_07_00_00_0{n}.{n:04d}'
        new.mkdir()
        (new / 'LEVEL').write_text(value + '\n')
        old = os.readlink(root / '..data') if (root / '..data').is_symlink() else None
        os.symlink(new.name, root / '..data_tmp')
        os.replace(root / '..data_tmp', root / '..data')
        if not (root / 'LEVEL').is_symlink():
            os.symlink('..data/LEVEL', root / 'LEVEL')
        if old is not None:
            shutil.rmtree(root / old)

    swap(0, 'S0')
    v = Variables()
    reloads: queue.Queue[set[str]] = queue.Queue()
    v.on_reload(reloads.put)
    add_secrets_dir_source(root, v, watch=True)
    assert v.get('level') == 'S0'
    for i in range(1, 4):
        swap(i, f'S{i}')
        while v.get('level') != f'S{i}':
            reloads.get(timeout=TIMEOUT)


def test_the_whole_directory_replaced_is_seen(tmp_path: Path, warnings: Warnings) -> None:
    """A deployment that swaps the configuration directory (``mv conf conf.old; mv conf.new conf``)."""
    conf = tmp_path / 'conf'
    conf.mkdir()
    (conf / 'app.yaml').write_text('level: L0\n')
    w = Watched(conf / 'app.yaml')
    for i in range(1, 4):
        new = tmp_path / f'conf.new{i}'
        new.mkdir()
        (new / 'app.yaml').write_text(f'level: L{i}\n')
        os.rename(conf, tmp_path / f'conf.old{i}')
        os.rename(new, conf)
        w.expect(f'L{i}')


def test_a_missing_directory_is_reported_once_and_watched_for(tmp_path: Path, warnings: Warnings) -> None:
    conf = tmp_path / 'later'
    v = Variables()
    reloads: queue.Queue[set[str]] = queue.Queue()
    v.on_reload(reloads.put)
    add_file_source(conf / 'app.yaml', v, optional=True, watch=True)
    message = warnings.expect(str(conf / 'app.yaml'))
    assert 'no directory' in message and 'retrying' in message
    conf.mkdir()
    (conf / 'app.yaml').write_text('level: late\n')
    while v.get('level') != 'late':
        reloads.get(timeout=TIMEOUT)
    assert warnings.records.qsize() == 0, [warnings.records.get().getMessage() for _ in range(3)]


class Records(logging.Handler):
    """Every record of ``saf.config`` (any level), in a queue."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: queue.Queue[logging.LogRecord] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.put(record)


def test_a_file_truncated_then_written_never_loses_its_values(tmp_path: Path) -> None:
    """``open(path, 'w')`` (or a shell's ``>``) empties the file before the new text is written: a watch that
    fires in between must not take the empty file for "no settings" (every value gone, the callbacks told so);
    the last good values stay and it is logged, naming the file."""
    p = tmp_path / 'app.yaml'
    p.write_text('level: L0\nport: 1\n')
    handler = Records()
    logger = logging.getLogger('saf.config')
    logger.addHandler(handler)
    try:
        w = Watched(p)
        seen: list[Any] = []
        w.v.on_reload(lambda changed: seen.append(w.v.get('level')))
        for i in range(1, 3):
            with open(p, 'w') as f:  # truncated: 0 bytes until the write below
                f.flush()
                while True:  # the watch has looked at the empty file (a log line) or taken it (a reload)
                    try:
                        record = handler.records.get(timeout=TIMEOUT)
                    except queue.Empty:
                        raise AssertionError(f'nothing logged about the emptied {p}; reloads saw {seen}') from None
                    if str(p) in record.getMessage() and 'empty' in record.getMessage():
                        break
                assert w.v.get('level') == f'L{i - 1}', seen
                f.write(f'level: L{i}\nport: {i + 1}\n')
            w.expect(f'L{i}')
        assert None not in seen, seen
        assert w.v.get('port') == 3
    finally:
        logger.removeHandler(handler)


def test_an_optional_file_behind_a_link_loop_is_missing_until_repaired(tmp_path: Path) -> None:
    """An optional file whose path runs through a symbolic-link loop (``conf -> conf2 -> conf``: a botched
    deployment) or through a regular file is missing, like one behind a dangling link: no values, no raw
    ``OSError``; once the path is repaired the watch reads it."""
    os.symlink(tmp_path / 'conf2', tmp_path / 'conf')
    os.symlink(tmp_path / 'conf', tmp_path / 'conf2')
    (tmp_path / 'plain').write_text('x')
    v = Variables()
    reloads: queue.Queue[set[str]] = queue.Queue()
    v.on_reload(reloads.put)
    add_file_source(tmp_path / 'plain' / 'app.yaml', v, optional=True)  # a file where a directory should be
    add_file_source(tmp_path / 'conf' / 'app.yaml', v, optional=True, watch=True)
    assert v.get('level') is None
    with pytest.raises(OSError, match='app.yaml'):  # not optional: an error naming the file
        add_file_source(tmp_path / 'conf' / 'app.yaml', Variables())
    os.unlink(tmp_path / 'conf')
    (tmp_path / 'conf').mkdir()
    (tmp_path / 'conf' / 'app.yaml').write_text('level: repaired\n')
    while v.get('level') != 'repaired':
        reloads.get(timeout=TIMEOUT)
