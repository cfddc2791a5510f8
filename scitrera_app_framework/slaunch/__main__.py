"""``python -m scitrera_app_framework.slaunch``: the slaunch CLI (see :mod:`.main`)."""

from __future__ import annotations

from .main import main

if __name__ == '__main__':
    raise SystemExit(main())
