"""Loading a manifest end to end: read the source (:mod:`._fetch`), parse the text (:mod:`._parse`), build and
validate it (:mod:`._schema`)."""

from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

from ._fetch import read_source
from ._marks import Marks
from ._model import Manifest
from ._parse import json_marks, parse_json, parse_yaml
from ._schema import build


def load_manifest(source: Union[str, os.PathLike[str], Mapping[str, Any], Manifest],
                  base: Union[str, os.PathLike[str], None] = None) -> Manifest:
    """Load and validate a manifest from a file path, an ``http(s)://`` / ``file://`` URL, a mapping, or pass a
    :class:`Manifest` through.

    ``base`` overrides the directory relative references are resolved against. Returns a :class:`Manifest`.
    Raises :class:`ManifestFetchError` when the source cannot be read and :class:`ManifestError` when its
    content is invalid.
    """
    if isinstance(source, Manifest):
        return source
    if isinstance(source, Mapping):
        base_ref = os.fspath(base) if base is not None else os.getcwd()
        return build(source, '<dict>', Marks(), base_ref)
    text, origin, fmt, default_base = read_source(source)
    return parse_manifest_text(text, origin=origin, fmt=fmt,
                               base=os.fspath(base) if base is not None else default_base)


def parse_manifest_text(text: str, origin: str = '<string>', fmt: Optional[str] = None,
                        base: Optional[str] = None) -> Manifest:
    """Parse and validate manifest text. ``fmt`` is ``'yaml'``, ``'json'`` or None (sniffed: ``{`` starts JSON).

    Returns a :class:`Manifest`; raises :class:`ManifestError` naming ``origin`` and the line on bad input.
    """
    if fmt is None:
        fmt = 'json' if text.lstrip().startswith('{') else 'yaml'
    if fmt == 'json':
        data = parse_json(text, origin)
        marks = json_marks(text)
    else:
        data, marks = parse_yaml(text, origin)
    return build(data, origin, marks, base if base is not None else os.getcwd())
