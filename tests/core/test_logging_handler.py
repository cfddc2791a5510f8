"""FrameworkHandler in-process: closed streams are dropped silently, a record that cannot be formatted still gives
exactly one line, write errors are reported, characters the stream cannot encode are escaped."""

from __future__ import annotations

import io
import logging

import pytest

from scitrera_app_framework.core.logs import FrameworkHandler, PlainFormatter


class _BadStr:
    def __str__(self) -> str:
        raise ValueError('broken __str__')


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord('t', logging.INFO, __file__, 1, msg, args, None)


def test_closed_stream_is_dropped_silently(capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.handle(_record('one'))
    buf.close()
    h.handle(_record('two'))  # must not raise nor print a "Logging error"
    assert 'Logging error' not in capsys.readouterr().err


def test_unformattable_message_gives_one_line_and_no_logging_error(capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.handle(_record('value: %s', _BadStr()))
    h.handle(_record('%d', 'x'))
    h.handle(_record('after'))
    assert 'Logging error' not in capsys.readouterr().err
    lines = buf.getvalue().split('\n')
    assert lines[-1] == '' and len(lines) == 4, lines
    assert lines[0].startswith('value: %s [log error: message formatting failed: ValueError: broken __str__'), lines[0]
    assert 'args: (_BadStr)' in lines[0]
    assert lines[1].startswith('%d [log error: message formatting failed: TypeError:'), lines[1]
    assert lines[2] == 'after'


class _FailingStream(io.StringIO):
    def write(self, s: str) -> int:
        raise ValueError('device refused the write')


def test_write_error_on_an_open_stream_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    h = FrameworkHandler(_FailingStream())
    h.setFormatter(PlainFormatter('%(message)s'))
    h.handle(_record('lost'))
    err = capsys.readouterr().err
    assert 'Logging error' in err and 'device refused the write' in err, err


def test_characters_the_stream_cannot_encode_are_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding='ascii', errors='strict')
    h = FrameworkHandler(stream)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.handle(_record('caf\u00e9 \u2192 ok'))
    stream.flush()
    assert raw.getvalue() == b'caf\\xe9 \\u2192 ok\n'
    assert 'Logging error' not in capsys.readouterr().err


def test_filters_are_honoured() -> None:
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.addFilter(lambda r: r.getMessage() != 'hidden')
    h.handle(_record('hidden'))
    h.handle(_record('shown'))
    assert buf.getvalue() == 'shown\n'
