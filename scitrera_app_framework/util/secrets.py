"""The one secrets policy: which names hold secrets, and how values and texts are masked before printing.

Every place the framework prints a value (errors, file parse errors, ``log_framework_variables``, exports,
the Pyroscope plugin, JSON static fields, log extras and ``log_context`` fields, multi-tenant errors, health
reports) goes through this module.

Names. A key is secret when its *normalized* form (lower case, every run of ``_``, ``-``, ``.`` or space made
one ``_``) matches one of :data:`SECRET_KEY_PATTERNS` (regular expressions, searched) or one of the extra
patterns added with :func:`add_secret_patterns` (``SAF_SECRET_KEYS``: comma-separated, each a plain substring
of the normalized name, e.g. ``license,dsn``), unless its last part is one of :data:`NON_SECRET_SUFFIXES`
(``_USERNAME``, ``_ENABLED``, ``_FILE``, ``_URL``...: settings *about* a secret); or when it is one of the names
marked with :func:`mark_secret_key` (always).

Values. A secret key's non-empty value prints as ``****``. In every value and text, whatever the key,
credentials in URLs (``scheme://user:password@host``, the password may contain ``@``) and ``name=value`` /
``"name": "value"`` pairs whose name is secret are masked (after an authorization scheme, ``Authorization: Bearer
TOKEN``, the credential is the value), also right after another label (``ValueError: token=abc``) or inside another
pair's value. A quoted name or an ``--option`` followed by ``:`` and prose is a label, not a pair (``plugin 'auth':
initialize failed``); a bare name is a pair (``auth: initialize failed`` masks ``initialize``: the safe side).

Known secret values. The values of variables declared secret (``environ(..., secret=True)``, ``Secret[...]``
settings fields), of every key of a secrets directory, and of secret-named keys read from files, set locally or
found in the environment at start are registered as they are loaded (and again on reload) with
:func:`add_secret_values`; every literal occurrence of one of them (or of its spelling inside ``repr``, JSON or
UTF-8 bytes, or in its other Unicode normal form), at least
:data:`MIN_SECRET_VALUE_LENGTH` characters long, is masked in every text the framework prints (:func:`mask_text`,
hence errors, the health report and ``saf``; and log messages, their arguments, extras and tracebacks with
``SAF_LOG_REDACT``); values longer than :data:`MAX_SECRET_VALUE_LENGTH` are not searched for. A short common
word used as a secret value (``default``, ``postgres``) is masked wherever it appears: the safe side. The
values are kept in memory (never written anywhere) until :func:`reset_secret_patterns`; a rotated secret's old
value stays masked. One compiled pattern (the values factored as a trie) is rebuilt on the first use after the
set changed; with no values registered there is no pattern and no cost. A search skips, in C, every character
that starts no value; its cost otherwise grows with the number of distinct characters that start values (see
README "Performance").

What it cannot do: recognize a secret by its shape alone (a bare token nobody declared, a password in a
non-secret key outside a URL), mask a value shorter than :data:`MIN_SECRET_VALUE_LENGTH` characters or a value
transformed before printing (base64- or URL-encoded, split, cut), or mask what user code prints itself without
going through the framework.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from typing import Any, Iterable, Mapping, Optional

MASK = '****'

#: Regular expressions searched in the normalized key (see the module docstring).
SECRET_KEY_PATTERNS: tuple[str, ...] = (
    r'passw(or)?d', r'(^|_)pass(_|$)', r'passphrase', r'(^|_)pwd(_|$)', r'secret', r'token', r'credential',
    r'api_?key', r'private_?key', r'auth(?!or(?!i[sz]))', r'signing_?key', r'encryption_?key', r'master_?key',
    r'cookie', r'session_?key', r'access_?key', r'(^|_)dsn(_|$)', r'(^|_)salt(_|$)', r'(^|_)pin(_|$)', r'(^|_)otp(_|$)',
)

#: A name whose last part says what *kind* of setting it is (not the secret itself) is not secret, even when an
#: earlier part matches: ``BASIC_AUTH_USERNAME``, ``AUTH_ENABLED``, ``TOKEN_FILE``, ``PASSWORD_URL``.
NON_SECRET_SUFFIXES: tuple[str, ...] = (
    'user', 'username', 'user_name', 'enabled', 'enable', 'disabled', 'mode', 'type', 'method', 'url', 'uri',
    'host', 'port', 'timeout', 'ttl', 'file', 'path', 'dir', 'length', 'min_length', 'max_length',
    'header_name', 'endpoint', 'provider', 'algorithm',
)
#: framework settings whose names match a pattern but whose values are not secrets (the list of extra patterns)
_NEVER_SECRET = frozenset(('saf_secret_keys',))
_SUFFIX_RE = re.compile('(?:^|_)(?:' + '|'.join(re.escape(x) for x in NON_SECRET_SUFFIXES) + ')$')
_SEP_RE = re.compile(r'[-_.\s]+')
_builtin_re = re.compile('|'.join(f'(?:{p})' for p in SECRET_KEY_PATTERNS))
_extra: tuple[str, ...] = ()
_marked: frozenset[str] = frozenset()
_lock = threading.Lock()
_cache: dict[str, bool] = {}
_CACHE_MAX = 4096


def normalize_key(key: str) -> str:
    """Lower-case ``key`` and turn every run of ``_``, ``-``, ``.`` or whitespace into one ``_``."""
    return _SEP_RE.sub('_', key.strip().lower()).strip('_')


def is_secret_key(key: Any) -> bool:
    """Return True when ``key`` (a variable, field or parameter name) names a secret."""
    if not isinstance(key, str) or not key:
        return False
    hit = _cache.get(key)
    if hit is not None:
        return hit
    norm = normalize_key(key)
    if norm in _NEVER_SECRET:
        result = False
    elif norm in _marked:
        result = True
    else:
        result = ((_builtin_re.search(norm) is not None or any(p in norm for p in _extra))
                  and _SUFFIX_RE.search(norm) is None)
    if len(_cache) >= _CACHE_MAX:
        _cache.clear()
    _cache[key] = result
    return result


def add_secret_patterns(patterns: Iterable[str] | str) -> None:
    """Add extra secret-name patterns: plain substrings of the normalized name (``SAF_SECRET_KEYS``).

    A string is split on commas; empty entries are ignored.
    """
    global _extra
    items = patterns.split(',') if isinstance(patterns, str) else list(patterns)
    new = tuple(normalize_key(str(p)) for p in items if str(p).strip())
    with _lock:
        _extra = tuple(dict.fromkeys(_extra + new))
        _cache.clear()


def mark_secret_key(name: str) -> None:
    """Mark one exact name as secret (the hook for variables declared secret)."""
    global _marked
    if normalize_key(name) in _marked:
        return
    with _lock:
        _marked = _marked | {normalize_key(name)}
        _cache.clear()


def reset_secret_patterns() -> None:
    """Forget the extra patterns, the marked names and the known secret values (used by
    ``testing.reset_framework``)."""
    global _extra, _marked, _values_re, _values_dirty
    with _lock:
        _extra = ()
        _marked = frozenset()
        _cache.clear()
        _values.clear()
        _values_re, _values_dirty = None, False


# --- known secret values -------------------------------------------------------------------------------------
#: The shortest value masked as a known secret value: shorter ones (``admin``, ``1234``) would mask ordinary words
#: and numbers everywhere; they are still masked under their secret names.
MIN_SECRET_VALUE_LENGTH = 6
#: The longest value searched for: longer ones (certificate bundles, keystores as text) are rarely quoted whole and
#: would make every search pattern huge; they are still masked under their secret names.
MAX_SECRET_VALUE_LENGTH = 4096

_values: dict[str, None] = {}  # the known secret values (an ordered set)
_values_re: Optional[re.Pattern[str]] = None
_values_dirty = False


def _value_text(value: Any) -> Optional[str]:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, bytes):
        try:
            text = value.decode('utf-8')
        except UnicodeDecodeError:
            return None
    else:
        return None
    text = text.strip()  # (the value without the spaces or newline around it: also found where quoted without them)
    return text if MIN_SECRET_VALUE_LENGTH <= len(text) <= MAX_SECRET_VALUE_LENGTH else None


def _spellings(text: str) -> list[str]:
    """``text`` and the ways it is printed escaped: its other Unicode normal forms, inside ``repr`` (a traceback's
    ``ValueError(f'{pw!r}')``, a logged list or dict), JSON (``\\"``, ``\\n``, ``\\u00e9``) and as UTF-8 bytes."""
    out = dict.fromkeys((text,))
    for form in ('NFC', 'NFD'):
        out.setdefault(unicodedata.normalize(form, text))
    for t in list(out):
        for shown in (repr(t)[1:-1], json.dumps(t)[1:-1], json.dumps(t, ensure_ascii=False)[1:-1],
                      repr(t.encode('utf-8', 'surrogatepass'))[2:-1]):
            out.setdefault(shown)
    return [v for v in out if len(v) <= MAX_SECRET_VALUE_LENGTH]


def _scalars(values: Iterable[Any]) -> list[Any]:
    """The values, with every list, tuple, set or mapping replaced by the scalars inside it (any depth to 16)."""
    out: list[Any] = []
    stack: list[tuple[Any, int]] = [(v, 0) for v in values]
    stack.reverse()
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            value = list(value.values())
        if isinstance(value, (list, tuple, set, frozenset)):
            if depth < 16:
                stack.extend((x, depth + 1) for x in value)
        else:
            out.append(value)
    return out


def add_secret_values(values: Iterable[Any]) -> None:
    """Register known secret values (see the module docstring): strings (bytes decoded as UTF-8, numbers as
    written) of at least :data:`MIN_SECRET_VALUE_LENGTH` characters, and those inside a list, tuple, set or
    mapping given as a value; others are ignored. Cheap when every value
    is known already: the pattern is rebuilt only when the set changes, on its next use."""
    global _values_dirty
    new = [v for t in map(_value_text, _scalars(values)) if t is not None for v in _spellings(t) if v not in _values]
    if not new:
        return
    with _lock:
        for t in new:
            _values[t] = None
        _values_dirty = True


def add_secret_value(value: Any) -> None:
    """Register one known secret value (see :func:`add_secret_values`)."""
    add_secret_values((value,))


def secret_values_pattern() -> Optional[re.Pattern[str]]:
    """The compiled pattern matching every known secret value (longest first), or None when there is none."""
    if _values_dirty:
        _build_values_re()
    return _values_re


def _build_values_re() -> None:
    global _values_re, _values_dirty
    with _lock:
        if not _values_dirty:
            return
        words = list(_values)
        try:
            pattern = re.compile(_trie_regex(words)) if words else None
        except (RecursionError, re.error, OverflowError):  # an unusual set (deeply nested prefixes): plain alternation
            pattern = re.compile('|'.join(re.escape(w) for w in sorted(words, key=len, reverse=True)))
        _values_re, _values_dirty = pattern, False


def _trie_regex(words: list[str]) -> str:
    """A regular expression matching any of ``words``, factored as a trie (one branch per distinct next
    character: the engine tries a handful of branches per position, not one per word); longest match first."""
    trie: dict[str, Any] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[''] = None

    def build(node: dict[str, Any]) -> str:
        parts: list[str] = []
        while len(node) == 1 and '' not in node:  # a chain of single children: plain literal text
            ch, node = next(iter(node.items()))
            parts.append(re.escape(ch))
        if not node:
            return ''.join(parts)
        end = '' in node
        alts = [re.escape(ch) + build(sub) for ch, sub in sorted(node.items()) if ch != '']
        if not alts:
            return ''.join(parts)
        body = alts[0] if len(alts) == 1 else '(?:' + '|'.join(alts) + ')'
        if end:
            body = f'(?:{body})?' if len(alts) == 1 else body + '?'
        return ''.join(parts) + body

    return build(trie)


def mask_secret_values(text: str) -> str:
    """Return ``text`` with every known secret value replaced by ``****`` (no cost when none is known). Values
    that overlap in the text (``secret-AB`` and ``B-other-1`` in ``secret-AB-other-1``) are masked as one run:
    no character of either is left."""
    pattern = secret_values_pattern()
    if pattern is None:
        return text
    m = pattern.search(text)
    if m is None:
        return text
    search = pattern.search
    out: list[str] = []
    last = 0
    while m is not None:
        start, end = m.span()
        if end == start:  # (no empty value is registered; never loop on an empty match)
            m = search(text, end + 1)
            continue
        i = start + 1
        while i < end:  # a value starting inside this match and running past it extends the run
            n = search(text, i, end + 4096 + 1)
            if n is None or n.start() >= end:
                break
            end = max(end, n.end())
            i = n.start() + 1
        out.append(text[last:start])
        out.append(MASK)
        last = end
        m = search(text, end)
    out.append(text[last:])
    return ''.join(out)


# scheme://user:password@host -- the password runs to the last '@' before the host (it may contain '@')
_URL_CRED_RE = re.compile(r'([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s/:@\'"]*:)[^\s/\'"]*@(?=[^\s@/\'"]*(?:[/\s\'"?#]|$))')
# name=value, name: value, "name": "value" where name looks secret; the name starts after no letter, '_' or '.' (a
# search does not retry from every character of a long word; '--pin', '2fa_token' and 'x-api-key' still match)
_PAIR_RE = re.compile(
    r'''(?<![A-Za-z_.])(?P<key>["']?[A-Za-z_][A-Za-z0-9_.\-]*["']?)(?P<sep>\s*[:=]\s*)'''
    # an HTTP authorization scheme (Authorization: Bearer TOKEN) is kept; the credential after it is the value
    r'''(?P<scheme>(?i:bearer|basic|digest|token|bot|negotiate|apikey|api-key|hmac)[ \t]+(?=[^\s,;&)}\]'"]))?'''
    r'''(?P<val>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]'"]+)''')
# what follows a value when it is the first word of prose ("plugin 'auth': initialize failed")
_PROSE_RE = re.compile(r'[ \t]+[A-Za-z]')
# what precedes a quoted label: a word of prose ("plugin 'auth':"), searched in the text right before the quote
_WORD_BEFORE_RE = re.compile(r'[A-Za-z0-9_)\]][ \t]+$')
# a value that may hold a 'name: value' pair: a name's last character before ':' (not a time's '09:00', not 'http:/')
_NESTED_NAME_RE = re.compile(r'[A-Za-z_]["\']?\s*:(?!/)')
_SEP_NEXT_RE = re.compile(r'\s*[:=]')


# ?name=value / &name=value in a URL's query string
_QUERY_PAIR_RE = re.compile(r'''([?&;])([A-Za-z_][A-Za-z0-9_.\-]*)=([^&;#\s'"]+)''')


def mask_url_credentials(text: str) -> str:
    """Mask the password of every ``scheme://user:password@host`` in ``text``."""
    if '://' not in text or '@' not in text:
        return text
    return _URL_CRED_RE.sub(lambda m: m.group(1) + MASK + '@', text)


def _is_label(text: str, m: re.Match[str]) -> bool:
    """True when the ``name: word`` match ``m`` is a label followed by prose, not a pair: a quoted name (how a
    message quotes a plugin or a variable: ``plugin 'auth': initialize failed``) or an option (``argument --pin:
    invalid int value``) before ``:`` and an unquoted value that the next word of prose follows. A bare name
    (``auth: initialize failed``) stays a pair: it cannot be told from ``password: hunter2 rejected``."""
    if ':' not in m.group('sep') or m.group('val')[:1] in ('"', "'"):
        return False
    start = m.start('key')
    if text[start] in ('"', "'"):
        if _WORD_BEFORE_RE.search(text, max(0, start - 64), start) is None:  # ('password': hunter2 rejected)
            return False
    elif text[max(0, start - 2):start] != '--':
        return False
    return _PROSE_RE.match(text, m.end()) is not None


def _mask_pairs(text: str) -> str:
    """Mask the value of every secret-named ``name=value`` / ``name: value`` / ``"name": "value"`` pair of ``text``.
    After a name that is not secret (``ValueError: token=abc``, ``"msg": "token=abc"``) the search goes on right
    after its separator when its value holds a ``=`` or a name before ``:``, or is followed by a separator (``e:
    "token": abc``): what looked like its value may hold or start a pair."""
    out: list[str] = []
    last = pos = 0
    finditer, cache = _PAIR_RE.finditer, _cache
    while pos >= 0:
        resume = -1
        for m in finditer(text, pos):
            key = m.group('key').strip('"\'')
            secret = cache.get(key)
            if secret is None:
                secret = is_secret_key(key)
            if secret and not _is_label(text, m):
                val = m.group('val')
                quote = val[0] if val[:1] in ('"', "'") else ''
                out.append(text[last:m.start('val')])
                out.append(f'{quote}{MASK}{quote}')
                last = m.end()
            else:
                val = m.group('val')
                if ('=' in val or (':' in val and _NESTED_NAME_RE.search(val) is not None)
                        or _SEP_NEXT_RE.match(text, m.end()) is not None):  # ('e: "token": x': the value is a name)
                    resume = m.end('sep')
                    break
        pos = resume
    if not out:
        return text
    out.append(text[last:])
    return ''.join(out)


def _mask_query_pair(m: re.Match[str]) -> str:
    return f'{m.group(1)}{m.group(2)}={MASK}' if is_secret_key(m.group(2)) else m.group(0)


def mask_text(text: Any) -> str:
    """Return ``str(text)`` with known secret values, URL credentials (``user:password@`` and secret-named query
    parameters such as ``?password=``) and secret-named ``name=value`` pairs masked."""
    s = text if isinstance(text, str) else str(text)
    s = mask_secret_values(s)
    s = mask_url_credentials(s)
    if '?' in s and '://' in s:  # a URL's query: 'scheme:' would otherwise be taken for the pair's name
        s = _QUERY_PAIR_RE.sub(_mask_query_pair, s)
    if '=' in s or ':' in s:
        s = _mask_pairs(s)
    return s


def mask_value(key: Any, value: Any) -> Any:
    """Return ``value`` fit to print under ``key``: ``'****'`` when the key is secret and the value non-empty;
    else a string with URL credentials and secret-named ``name=value`` pairs masked, and lists, tuples and
    mappings with the same done inside them (secret-named mapping keys masked); other values unchanged."""
    return _redact(key, value, 8)


def redact_mapping(data: Mapping[Any, Any], depth: int = 8) -> dict[Any, Any]:
    """Return a copy of ``data`` with :func:`mask_value` applied to every value, nested mappings included (to
    ``depth`` levels) and strings inside lists and tuples masked for URL credentials."""
    return {k: _redact(k, val, depth) for k, val in data.items()}


def _redact(key: Any, value: Any, depth: int) -> Any:
    if is_secret_key(key) and value is not None and value != '':
        return MASK
    if isinstance(value, str):
        return mask_text(value) if ('://' in value or '=' in value or ':' in value) else mask_secret_values(value)
    if depth <= 0:
        return value
    if isinstance(value, Mapping):
        return {k: _redact(k, v, depth - 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(None, v, depth - 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_redact(None, v, depth - 1) for v in value)
    return value


def bounded_repr(value: Any, limit: int = 200) -> str:
    """``repr(value)``, cut to ``limit`` characters with the full length noted (for error messages)."""
    try:
        r = repr(value)
    except Exception as e:  # a broken __repr__
        return f'<unprintable {type(value).__name__}: {type(e).__name__}>'
    if len(r) <= limit:
        return r
    n = len(value) if isinstance(value, (str, bytes)) else len(r)
    return f'{r[:limit]}... ({n:,} characters)'


def shown_value(key: Any, value: Any, limit: int = 200) -> str:
    """How a bad value of ``key`` is quoted in an error message: masked, URL credentials masked, bounded."""
    if is_secret_key(key) and value is not None and value != '':
        return MASK
    if isinstance(value, str) and len(value) > 4 * limit:
        # mask a generous prefix only (masking 10 MB would take seconds), then cut it to the limit
        return bounded_repr(mask_value(key, value[:4 * limit]), limit).replace(
            f'({4 * limit:,} characters)', f'({len(value):,} characters)')
    return bounded_repr(mask_value(key, value), limit)


__all__ = ['MASK', 'SECRET_KEY_PATTERNS', 'NON_SECRET_SUFFIXES', 'MIN_SECRET_VALUE_LENGTH', 'MAX_SECRET_VALUE_LENGTH',
           'normalize_key', 'is_secret_key', 'add_secret_patterns', 'mark_secret_key', 'reset_secret_patterns',
           'add_secret_values', 'add_secret_value', 'secret_values_pattern', 'mask_secret_values',
           'mask_url_credentials', 'mask_text', 'mask_value', 'redact_mapping', 'bounded_repr', 'shown_value']
