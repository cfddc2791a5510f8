"""pytest plugin (entry point ``pytest11``): the ``saf`` fixture.

``saf`` gives each test a fresh :class:`~scitrera_app_framework.Variables` initialized with
``init_framework_test_harness`` (made the default) and calls ``reset_framework`` afterwards.

Loading this plugin imports nothing of the framework (it is loaded into every pytest run of a project that has
the package installed): the fixture imports what it needs when a test uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

import pytest

if TYPE_CHECKING:
    from ..api.variables import Variables


@pytest.fixture
def saf() -> Iterator[Variables]:
    """A freshly initialized framework (test-harness mode) for one test; reset afterwards."""
    from ..api.variables import Variables
    from ..core.core import init_framework_test_harness
    from ._reset import reset_framework

    reset_framework()
    v = init_framework_test_harness('saf-test', v=Variables())
    try:
        yield v
    finally:
        reset_framework()


__all__ = ['saf']
