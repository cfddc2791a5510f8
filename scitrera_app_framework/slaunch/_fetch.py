"""Reading a manifest's bytes: a file path, a ``file://`` URL or an ``http(s)://`` URL, size-capped and decoded.

A source that cannot be read at all raises :class:`ManifestFetchError` (so the launcher may fall back to the
installed version); one that is read but too large or not UTF-8 raises :class:`ManifestError`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Optional, Union

from .errors import ManifestError, ManifestFetchError

_MAX_MANIFEST_BYTES = 5 * 1024 * 1024
_URL_TIMEOUT_S = 30.0


class ManifestSource(NamedTuple):
    """A manifest as read from a path or URL."""

    text: str
    origin: str  #: the path, or the URL with its credentials masked
    format: Optional[str]  #: ``'yaml'`` or ``'json'`` when the name (or a URL's content type) says it, else None
    base: str  #: what relative references in it are relative to: its directory (a URL's: the URL of its folder)


def read_source(source: Union[str, os.PathLike[str]]) -> ManifestSource:
    """Return (text, origin, format or None, base for relative references) of a manifest path or URL.

    Raises :class:`ManifestFetchError` when it cannot be read, :class:`ManifestError` when it is too large or
    not UTF-8.
    """
    ref = os.fspath(source)
    if isinstance(ref, bytes):
        ref = os.fsdecode(ref)
    if ref.startswith(('http://', 'https://')):
        return _fetch_url(ref)
    if ref.startswith('file://'):
        from urllib.parse import urlsplit
        from urllib.request import url2pathname
        ref = url2pathname(urlsplit(ref).path)
    path = Path(ref).expanduser()
    origin = str(path)
    try:
        if path.stat().st_size > _MAX_MANIFEST_BYTES:
            raise ManifestError(f'manifest is larger than {_MAX_MANIFEST_BYTES} bytes; is this the right file?',
                                source=origin)
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ManifestFetchError('manifest file not found; check the path', source=origin) from None
    except IsADirectoryError:
        raise ManifestFetchError('is a directory, not a manifest file', source=origin) from None
    except OSError as exc:
        raise ManifestFetchError(f'cannot read the manifest: {exc.strerror or exc}', source=origin) from exc
    text = _decode(raw, origin)
    return ManifestSource(text, origin, _format_from_name(path.name), str(path.parent.absolute()))


def _fetch_url(url: str) -> ManifestSource:
    import urllib.error
    import urllib.request
    from urllib.parse import urljoin, urlsplit

    from ..util.secrets import mask_url_credentials

    shown = mask_url_credentials(url)
    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT_S) as resp:  # noqa: S310 (http(s) only, checked)
            raw = resp.read(_MAX_MANIFEST_BYTES + 1)
            content_type = resp.headers.get('Content-Type', '') or ''
    except urllib.error.HTTPError as exc:
        raise ManifestFetchError(f'HTTP {exc.code} {exc.reason} while fetching the manifest', source=shown) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, 'reason', exc)
        raise ManifestFetchError(f'cannot fetch the manifest: {reason}', source=shown) from None
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ManifestError(f'manifest is larger than {_MAX_MANIFEST_BYTES} bytes; is this the right URL?',
                            source=shown)
    fmt = _format_from_name(urlsplit(url).path)
    if fmt is None and 'json' in content_type:
        fmt = 'json'
    return ManifestSource(_decode(raw, shown), shown, fmt, urljoin(url, '.'))


def _decode(raw: bytes, origin: str) -> str:
    """Decode UTF-8 (BOM dropped) with :func:`~scitrera_app_framework.util.config_files.decode_utf8`; a bad byte is
    a :class:`ManifestError` naming the line."""
    from ..util.config_files import ConfigFileError, decode_utf8

    try:
        return decode_utf8(origin, raw)
    except ConfigFileError as exc:
        problem = str(exc)[len(f'{origin}:{exc.line}: ') if exc.line is not None else len(f'{origin}: '):]
        raise ManifestError(problem, source=origin, line=exc.line) from None


def _format_from_name(name: str) -> Optional[str]:
    lower = name.lower()
    if lower.endswith('.json'):
        return 'json'
    if lower.endswith(('.yaml', '.yml')):
        return 'yaml'
    return None
