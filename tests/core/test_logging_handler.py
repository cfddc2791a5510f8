"""FrameworkHandler in-process: closed streams are dropped silently, real formatting errors are reported."""

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


def test_value_error_while_formatting_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.handle(_record('value: %s', _BadStr()))
    err = capsys.readouterr().err
    assert 'Logging error' in err and 'broken __str__' in err, err
    h.handle(_record('after'))
    assert buf.getvalue() == 'after\n'


def test_filters_are_honoured() -> None:
    buf = io.StringIO()
    h = FrameworkHandler(buf)
    h.setFormatter(PlainFormatter('%(message)s'))
    h.addFilter(lambda r: r.getMessage() != 'hidden')
    h.handle(_record('hidden'))
    h.handle(_record('shown'))
    assert buf.getvalue() == 'shown\n'
