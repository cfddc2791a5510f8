"""pytest plugin (entry point ``pytest11``): the ``saf`` fixture.

``saf`` gives each test a fresh :class:`Variables` initialized with ``init_framework_test_harness`` (made the
default) and calls :func:`reset_framework` afterwards.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from ..api.variables import Variables
from ..core.core import init_framework_test_harness
from . import reset_framework


@pytest.fixture
def saf() -> Iterator[Variables]:
    """A freshly initialized framework (test-harness mode) for one test; reset afterwards."""
    reset_framework()
    v = init_framework_test_harness('saf-test', v=Variables())
    try:
        yield v
    finally:
        reset_framework()


__all__ = ['saf']
