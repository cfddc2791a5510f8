"""``python -m scitrera_app_framework``: the ``saf`` command (see :mod:`scitrera_app_framework.cli`)."""

from __future__ import annotations

from .cli import console_main

if __name__ == '__main__':
    console_main()
