"""Where things are in a manifest's text: key paths (``apps.myapp.entry``) and the line of each key / item."""

from __future__ import annotations

import re
from typing import Dict, Tuple, Union

#: a key path: mapping keys and list indexes from the top of the manifest down.
KeyPath = Tuple[Union[str, int], ...]


class Marks:
    """Where things are in the manifest text: the line of every key / list item, the raw text of scalars."""

    def __init__(self) -> None:
        self.lines: Dict[KeyPath, int] = {}
        self.raw: Dict[KeyPath, str] = {}


def format_path(path: KeyPath) -> str:
    """Return ``path`` as written in messages: ``apps.myapp.args[0]``, ``env['odd key']``; ``''`` for the top."""
    out = ''
    for part in path:
        if isinstance(part, int):
            out += f'[{part}]'
        elif re.fullmatch(r'[A-Za-z0-9_-]+', part):
            out += f'.{part}' if out else part
        else:
            out += f'[{part!r}]'
    return out
