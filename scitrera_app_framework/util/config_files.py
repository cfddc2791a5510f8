"""Readers for configuration files (``.env``, YAML, JSON, TOML) with errors that name the file and the line.

Every reader decodes UTF-8 itself (a bad byte is an error naming the file and the line), never quotes a
secret in an error (see :mod:`.secrets`), and turns excessive nesting into an error naming the file.

``.env`` files are read once and parsed in time linear in their size. A file without quoted values is parsed
here, by python-dotenv's rules for such lines; a file with quoted values (which may hold escapes and span
lines) is parsed by python-dotenv's own parser (the ``dotenv`` extra), so both give python-dotenv's results.
``${NAME}`` / ``${NAME:-default}`` are expanded from the file's earlier values, then from ``environ`` (the
process environment by default; pass ``environ={}`` to expand from the file alone, as tenant files do).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Mapping, NamedTuple, Optional, Union

from ..exceptions import SAFError
from .secrets import is_secret_key, shown_value

PathLike = Union[str, 'os.PathLike[str]']


class ConfigFileError(SAFError, ValueError):
    """A configuration file cannot be read or parsed; the message names the file and, where known, the line."""

    def __init__(self, path: str, line: Optional[int], problem: str) -> None:
        self.path, self.line = path, line
        where = f'{path}:{line}' if line is not None else path
        super().__init__(f'{where}: {problem}')


def decode_utf8(path: str, data: bytes) -> str:
    """Decode a file's bytes as UTF-8 (a leading BOM is dropped).

    Raises:
        ConfigFileError: not valid UTF-8 (names the file, the line and the byte offset).
    """
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b'\n') + 1
        raise ConfigFileError(path, line, f'not valid UTF-8 text ({e.reason} at byte {e.start}); save the file as '
                                          f'UTF-8') from None
    return text[1:] if text.startswith('\ufeff') else text


def read_text(path: PathLike) -> tuple[str, str]:
    """Return ``(path as str, its text)``, decoded as UTF-8.

    Raises:
        FileNotFoundError: no such file (names it). ConfigFileError: not UTF-8. OSError: cannot be read.
    """
    p = os.fspath(path)
    try:
        with open(p, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f'configuration file not found: {os.path.abspath(p)!r}') from None
    return p, decode_utf8(p, data)


# --- .env ----------------------------------------------------------------------------------------------------
# a line without quotes: optional export, a key, then nothing, '=' alone, or '=' and an unquoted value (python-dotenv's
# grammar for such lines: the value runs to the end of the line; ' #...' is a comment)
_PLAIN_LINE = re.compile(r'[ \t]*(?:export[ \t]+)?([^=#\s\'"]+)[ \t]*(?:=([ \t]*)([^\r\n]*))?\r?$')
_SKIP_LINE = re.compile(r'[ \t]*(?:#.*)?\r?$')


class _Binding(NamedTuple):
    """One ``KEY=value`` line of a ``.env`` file (``value`` None for a key without ``=``)."""

    key: str
    value: Optional[str]
    line: int


def parse_env_text(text: str, path: str = '<string>', environ: Optional[Mapping[str, str]] = None,
                   lines: Optional[dict[str, int]] = None) -> dict[str, Optional[str]]:
    """Parse ``.env`` text; return ``{key: value}`` (a key without ``=`` maps to None), variables expanded.

    ``environ``: where ``${NAME}`` is looked up after the file's own earlier values (default: the process
    environment; ``{}``: nowhere else). ``lines``, when given, receives each key's line number.

    Raises:
        ConfigFileError: a line cannot be parsed (names the file and line; a secret value is not quoted).
        ImportError: the file needs python-dotenv's parser and python-dotenv is not installed.
    """
    pairs = _parse_env_fast(text, path)
    if pairs is None:
        pairs = _parse_env_dotenv(text, path)
    env = os.environ if environ is None else environ
    out: dict[str, Optional[str]] = {}
    for key, value, line in pairs:
        if value is not None and '${' in value:
            value = _expand(value, out, env)
        out[key] = value
        if lines is not None:
            lines[key] = line
    return out


def _expand(value: str, own: Mapping[str, Optional[str]], env: Mapping[str, str]) -> str:
    """Expand ``${NAME}`` and ``${NAME:-default}`` the way python-dotenv does (the file's earlier values win over
    ``env``; the default only for an unset name), in time linear in the value's length."""
    out: list[str] = []
    i = 0
    close = -1  # the next '}' after the current '${' (reused while it stays ahead: no rescans)
    n = len(value)
    while i < n:
        j = value.find('${', i)
        if j < 0:
            break
        if close < j + 2:
            close = value.find('}', j + 2)
            if close < 0:
                break  # no closing brace from here on: the rest is literal
        colon = value.find(':', j + 2, close)  # (no slicing of what may be a long stretch: linear)
        if colon < 0:
            name, default = value[j + 2:close], None
        elif value[colon + 1:colon + 2] == '-':
            name, default = value[j + 2:colon], value[colon + 2:close]
        else:  # ':' not followed by '-': not a variable; the '$' is literal
            out.append(value[i:j + 1])
            i = j + 1
            continue
        if name in own:
            val = own[name]
        elif name in env:
            val = env[name]
        else:
            val = default or ''
        out.append(value[i:j])
        out.append(val if val is not None else '')
        i = close + 1
    out.append(value[i:])
    return ''.join(out)


def _strip_comment(value: str) -> str:
    """Drop a comment the way python-dotenv does (``re.sub(r'\\s+#.*', '', value)``), in linear time."""
    i = value.find('#')
    while i > 0:
        if value[i - 1].isspace():
            j = i - 1
            while j > 0 and value[j - 1].isspace():
                j -= 1
            return value[:j]
        i = value.find('#', i + 1)
    return value


def _parse_env_fast(text: str, path: str) -> Optional[list[_Binding]]:
    """Parse a file whose bindings have no quoted values; None when one has (the full parser is needed).

    Raises:
        ConfigFileError: a line without quotes that is not a binding (names the file and line).
    """
    pairs: list[_Binding] = []
    plain, skip = _PLAIN_LINE.match, _SKIP_LINE.match
    bad_line, bad_text = 0, ''  # the first line that does not parse (0: none)
    for n, line in enumerate(text.split('\n'), 1):
        m = plain(line)
        if m is not None:
            value = m.group(3)
            if value is not None:
                if value[:1] in ('"', "'"):
                    return None
                if value[:1] == '#' and m.group(2):
                    value = ''  # only a comment after 'KEY= '
                elif '#' in value:
                    value = _strip_comment(value)
                value = value.rstrip()
            pairs.append(_Binding(m.group(1), value, n))
        elif skip(line) is None:
            if '"' in line or "'" in line:
                return None  # a quoted key or value (may span lines): python-dotenv's parser decides
            if not bad_line:
                bad_line, bad_text = n, line
    if bad_line:
        raise ConfigFileError(path, bad_line, _describe_bad_line(bad_text))
    return pairs


def _parse_env_dotenv(text: str, path: str) -> list[_Binding]:
    try:
        from dotenv.parser import parse_stream
    except ImportError as e:
        raise ImportError(f"{path}: reading this .env file (quoted values or escapes) needs python-dotenv: "
                          f"pip install 'scitrera-app-framework[dotenv]'") from e
    import io

    pairs: list[_Binding] = []
    for b in parse_stream(io.StringIO(text)):
        if b.error:
            raise ConfigFileError(path, b.original.line, _describe_bad_line(b.original.string))
        if b.key is not None:
            pairs.append(_Binding(b.key, b.value, b.original.line))
    return pairs


def _describe_bad_line(line: str) -> str:
    """What to say about a line that does not parse: its key, and its value only when the key is not secret
    (bounded, URL credentials masked); never the text of a line without ``=`` beyond its first word."""
    line = line.strip()
    if line.startswith('export '):
        line = line[7:].lstrip()
    key, eq, value = line.partition('=')
    key = key.strip()
    if eq and key and ' ' not in key:
        shown = '****' if is_secret_key(key) else shown_value(key, value.strip(), 60)
        what = f'the line for {key!r} (value {shown})'
    else:
        first = line.split(None, 1)[0] if line else ''
        first = first.split('=', 1)[0]
        word = '****' if is_secret_key(first) else shown_value(None, first, 40)
        what = f'the line starting with {word} ({len(line)} characters)'
    return f'cannot parse {what}; expected KEY=value (quote values with spaces or special characters)'


def read_env_file(path: PathLike, environ: Optional[Mapping[str, str]] = None) -> dict[str, Optional[str]]:
    """Read a ``.env`` file once and parse it (see :func:`parse_env_text`).

    Raises:
        FileNotFoundError, ConfigFileError (names file and line), ImportError (see :func:`parse_env_text`).
    """
    p, text = read_text(path)
    return parse_env_text(text, p, environ)


# --- structured files ----------------------------------------------------------------------------------------
MAX_DEPTH = 64
MAX_NODES = 1_000_000  # values a file may expand to (YAML aliases can make a few hundred bytes expand to billions)


def _depth_error(path: str, kind: str) -> ConfigFileError:
    return ConfigFileError(path, None, f'invalid {kind}: nested too deeply (more than {MAX_DEPTH} levels or beyond '
                                       f"the parser's recursion limit); flatten the structure")


def _check_bounds(path: str, kind: str, root: Any, children: Callable[[Any], Optional[list[Any]]]) -> None:
    """Reject a structure nested deeper than :data:`MAX_DEPTH` or expanding to more than :data:`MAX_NODES` values.

    ``children(node)`` lists a container's children (None for a leaf). Post-order, iterative, with the (height,
    expanded size) of each node memoized by identity: a node shared by YAML aliases is sized once, so an alias
    bomb is caught in time linear in the input.
    """
    memo: dict[int, tuple[int, int]] = {}
    active: set[int] = set()  # the nodes being sized: the ancestors of the node popped (a DFS stack's property)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        kids = children(node)
        if kids is None or (not done and id(node) in memo):
            continue
        if not done:
            if id(node) in active:  # a recursive alias (&a [*a]): it would expand for ever
                raise ConfigFileError(path, None, f'invalid {kind}: a structure contains itself (a recursive '
                                                  f'alias); write it out without the cycle')
            active.add(id(node))
            stack.append((node, True))
            stack.extend((k, False) for k in kids if id(k) not in memo)
            continue
        active.discard(id(node))
        height, size = 1, len(kids)
        for k in kids:
            kh, ks = memo.get(id(k), (0, 0))
            height = max(height, kh + 1)
            size += ks
        if height > MAX_DEPTH:
            raise _depth_error(path, kind)
        if size > MAX_NODES:
            raise ConfigFileError(path, None, f'invalid {kind}: expands to more than {MAX_NODES:,} values (nested '
                                              f'aliases?); write the structure out or make it smaller')
        memo[id(node)] = (height, size)


def _data_children(node: Any) -> Optional[list[Any]]:
    if isinstance(node, dict):
        return list(node.values())
    return node if isinstance(node, list) else None


def _check_depth(path: str, kind: str, data: Any) -> Any:
    """Reject parsed data nested too deeply or too large (see :func:`_check_bounds`); return it."""
    _check_bounds(path, kind, data, _data_children)
    return data


def two_lines(first: int, second: int) -> str:
    """``lines 3 and 5`` (or ``line 4, twice`` when both are on one line), for errors naming two places."""
    return f'lines {first} and {second}' if first != second else f'line {first}, twice'


#: Line numbers of mapping keys: key path (the keys as written, outermost first) -> 1-based line.
KeyLines = dict[tuple[str, ...], int]

_YAML_STR = 'tag:yaml.org,2002:str'
_YAML_WORD_KEYS = ('tag:yaml.org,2002:bool', 'tag:yaml.org,2002:null')
_YAML_MERGE = 'tag:yaml.org,2002:merge'


def parse_yaml_text(text: str, path: str = '<string>') -> Any:
    """Parse YAML safely (``yaml.SafeLoader``) with errors naming the file and line; see
    :func:`parse_yaml_document`.

    Raises:
        ConfigFileError: invalid YAML, a duplicate key, a recursive alias, or nested too deeply or too large.
    """
    return parse_yaml_document(text, path)[0]


def parse_yaml_document(text: str, path: str = '<string>') -> tuple[Any, KeyLines]:
    """Parse YAML once: compose the node graph, check its bounds, note each key's line (rejecting duplicate keys)
    and construct the data from that same graph (``yaml.SafeLoader``'s constructors: no arbitrary objects).

    Keys that YAML 1.1 would read as booleans or null (``on:``, ``off:``, ``yes:``, ``no:``, ``true:``,
    ``null:``) stay the strings written; values keep YAML's meaning (``v: on`` is True). Merge keys (``<<:``)
    may be overridden by the mapping's own keys. Returns ``(data, lines)``: the line of every key reachable
    through mappings only, by key path (see :data:`KeyLines`).

    Raises:
        ConfigFileError: invalid YAML, a duplicate key in one mapping (names both lines), a recursive alias, or
            nested too deeply or too large (see :data:`MAX_DEPTH`).
    """
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()  # the node graph: aliases are shared, not expanded yet
            if root is None:
                return None, {}
            _check_yaml_nodes(path, root)
            lines = _yaml_key_lines(path, root, loader)
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as e:
            mark = e.problem_mark or e.context_mark
            line = mark.line + 1 if mark is not None else None
            problem = ' '.join(p for p in (e.context, e.problem) if p) or type(e).__name__
            raise ConfigFileError(path, line, f'invalid YAML: {problem}') from None
        except yaml.YAMLError as e:
            raise ConfigFileError(path, None, f'invalid YAML: {type(e).__name__}') from None
        except RecursionError:
            raise _depth_error(path, 'YAML') from None
        except ConfigFileError:
            raise
        except ValueError as e:  # a value the constructor refuses (an integer too long to convert, ...)
            raise ConfigFileError(path, None, f'invalid YAML: {type(e).__name__}: {str(e)[:200]}') from None
    finally:
        loader.dispose()
    return data, lines


def _check_yaml_nodes(path: str, root: Any) -> None:
    """Bound the composed YAML node graph before it is constructed (aliases are still shared there)."""
    import yaml

    def children(node: Any) -> Optional[list[Any]]:
        if not isinstance(node, yaml.CollectionNode):
            return None
        return [n for item in node.value for n in (item if isinstance(item, tuple) else (item,))]

    _check_bounds(path, 'YAML', root, children)


def _yaml_key_lines(path: str, root: Any, loader: Any) -> KeyLines:
    """Walk the composed graph once: keys written as YAML 1.1 booleans/null retagged as strings, duplicate keys
    rejected (both lines named), and the line of each key reachable through mappings recorded."""
    import yaml

    lines: KeyLines = {}
    seen: set[int] = set()
    stack: list[tuple[Any, Optional[tuple[str, ...]]]] = [(root, ())]
    while stack:
        node, kpath = stack.pop()
        if isinstance(node, yaml.MappingNode):
            first = id(node) not in seen
            if first:
                seen.add(id(node))
                where: dict[tuple[str, Any], int] = {}
                for knode, _ in node.value:
                    if not isinstance(knode, yaml.ScalarNode) or knode.tag == _YAML_MERGE:
                        continue
                    if knode.tag in _YAML_WORD_KEYS:
                        knode.tag = _YAML_STR  # 'on:' stays the key 'on' (YAML 1.1 would make it True)
                    ident = _yaml_key_ident(knode, loader)
                    line = knode.start_mark.line + 1
                    if ident in where:
                        raise ConfigFileError(path, line, f'duplicate key {knode.value!r} in one mapping '
                                                          f'({two_lines(where[ident], line)}); keep one')
                    where[ident] = line
            for knode, vnode in node.value:
                if isinstance(knode, yaml.ScalarNode) and knode.tag == _YAML_MERGE:
                    if first:
                        stack.append((vnode, None))
                    continue
                sub = kpath + (str(knode.value),) if kpath is not None and isinstance(knode, yaml.ScalarNode) \
                    else None
                if sub is not None:
                    lines[sub] = knode.start_mark.line + 1
                if sub is not None or first:
                    stack.append((vnode, sub))
        elif isinstance(node, yaml.SequenceNode) and id(node) not in seen:
            seen.add(id(node))
            stack.extend((n, None) for n in node.value)
    return lines


_YAML_NUMBERS = ('tag:yaml.org,2002:int', 'tag:yaml.org,2002:float')


def _yaml_key_ident(knode: Any, loader: Any) -> tuple[str, Any]:
    """What a scalar key becomes once constructed: numbers by value (``0x1``, ``1`` and ``1.0`` are one dict key),
    other scalars by tag and text."""
    import yaml

    if knode.tag in _YAML_NUMBERS:
        try:
            number = loader.construct_object(knode)  # (cached by the loader: constructed once for the document)
        except (yaml.YAMLError, ValueError):
            return knode.tag, knode.value
        if number == number:  # (NaN is never equal to a key: each .nan stays its own)
            return 'number', number
    return knode.tag, knode.value


def parse_json_text(text: str, path: str = '<string>') -> Any:
    """``json.loads`` with errors naming the file, line and column.

    Raises:
        ConfigFileError: invalid JSON, a duplicate key in one object (names both lines), or nested too deeply.
    """
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as e:
        raise _json_duplicate_error(path, text, e.key) from None
    except json.JSONDecodeError as e:
        raise ConfigFileError(path, e.lineno, f'invalid JSON: {e.msg} (column {e.colno})') from None
    except RecursionError:
        raise _depth_error(path, 'JSON') from None
    except ValueError as e:  # an integer too long to convert, ...
        raise ConfigFileError(path, None, f'invalid JSON: {type(e).__name__}: {str(e)[:200]}') from None
    return _check_depth(path, 'JSON', data)


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    d = dict(pairs)
    if len(d) != len(pairs):
        seen: set[str] = set()
        for k, _ in pairs:
            if k in seen:
                raise _DuplicateKey(k)
            seen.add(k)
    return d


def _json_duplicate_error(path: str, text: str, key: str) -> ConfigFileError:
    where: dict[tuple[int, str], int] = {}
    for jk in json_key_lines(text):
        if jk.key == key and (jk.obj, key) in where:
            return ConfigFileError(path, jk.line, f'duplicate key {key!r} in one object '
                                                  f'({two_lines(where[(jk.obj, key)], jk.line)}); keep one')
        where.setdefault((jk.obj, jk.key), jk.line)
    return ConfigFileError(path, None, f'duplicate key {key!r} in one object; keep one')


class JsonKey(NamedTuple):
    """One object key of a JSON text, as :func:`json_key_lines` lists them (a tuple: unpacks as before)."""

    obj: int  #: the number of the object holding the key (0 for the top, in the order the objects open)
    key: str
    line: int
    path: Optional[tuple[str, ...]]  #: the keys from the top (see :data:`KeyLines`); None inside arrays


class _JsonContainer:
    """An object or array :func:`json_key_lines` is inside of."""

    __slots__ = ('obj', 'path', 'last_key')

    def __init__(self, obj: int, path: Optional[tuple[str, ...]]) -> None:
        self.obj = obj  # the object's number, or -1 for an array
        self.path = path  # the container's key path, or None inside an array
        self.last_key: Optional[str] = None


def json_key_lines(text: str) -> list[JsonKey]:
    """Every object key of a JSON text in document order: ``(object number, key, line, key path)`` (a
    :class:`JsonKey`); the key path (keys from the top, see :data:`KeyLines`) is None inside arrays. Used on error
    paths only (duplicate keys, keys colliding after flattening): ``json`` itself reports no positions. Assumes text
    ``json`` accepted."""
    out: list[JsonKey] = []
    stack: list[_JsonContainer] = []
    n_obj = 0
    line, counted = 1, 0  # the line of text[counted]
    search = _JSON_SIGNIFICANT.search
    n = len(text)
    m = search(text, 0)
    while m is not None:
        i = m.start()
        c = text[i]
        if c == '"':
            j = i + 1
            while True:  # the closing quote: one not escaped by an odd run of backslashes
                j = text.find('"', j)
                if j < 0:
                    return out
                k = j - 1
                while text[k] == '\\':
                    k -= 1
                if (j - 1 - k) % 2 == 0:
                    break
                j += 1
            after = j + 1
            while after < n and text[after] in ' \t\r\n':
                after += 1
            if stack and stack[-1].obj >= 0 and after < n and text[after] == ':':
                raw = text[i:j + 1]
                key = raw[1:-1]
                if '\\' in key:
                    try:
                        key = json.loads(raw)
                    except ValueError:
                        pass
                line += text.count('\n', counted, i)
                counted = i
                top = stack[-1]
                top.last_key = key
                out.append(JsonKey(top.obj, key, line, top.path + (key,) if top.path is not None else None))
            m = search(text, j + 1)
            continue
        if c == '{':
            parent = stack[-1] if stack else None
            cpath: Optional[tuple[str, ...]]
            if parent is None:
                cpath = ()
            elif parent.obj >= 0 and parent.path is not None and parent.last_key is not None:
                cpath = parent.path + (parent.last_key,)
            else:
                cpath = None
            stack.append(_JsonContainer(n_obj, cpath))
            n_obj += 1
        elif c == '[':
            stack.append(_JsonContainer(-1, None))
        elif stack:  # '}' or ']'
            stack.pop()
        m = search(text, i + 1)
    return out


_JSON_SIGNIFICANT = re.compile(r'["{}\[\]]')


_TOML_HEADER = re.compile(r'\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$')
_TOML_PART_RE = r'[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\''
_TOML_KEY = re.compile(rf'\s*((?:{_TOML_PART_RE})(?:\s*\.\s*(?:{_TOML_PART_RE}))*)\s*=')
_TOML_PART = re.compile(_TOML_PART_RE)


def toml_key_lines(text: str) -> KeyLines:
    """The line of each key of a TOML text by key path (see :data:`KeyLines`); best effort, line by line
    (table headers, ``key = ...`` and dotted keys; multi-line strings skipped; arrays of tables left out). Used on
    error paths only."""
    def parts(dotted: str) -> tuple[str, ...]:
        return tuple(p[1:-1] if p[:1] in '"\'' else p for p in _TOML_PART.findall(dotted))

    out: KeyLines = {}
    table: Optional[tuple[str, ...]] = ()
    in_string: Optional[str] = None
    for n, row in enumerate(text.split('\n'), 1):
        if in_string is not None:
            if row.count(in_string) % 2 == 1:
                in_string = None
            continue
        h = _TOML_HEADER.match(row)
        if h is not None:
            table = parts(h.group(2)) if h.group(1) == '[' else None
            if table is not None:
                out.setdefault(table, n)
            continue
        m = _TOML_KEY.match(row)
        if m is not None and table is not None:
            out[table + parts(m.group(1))] = n
        for q in ('"""', "'''"):
            if row.count(q) % 2 == 1:
                in_string = q
                break
    return out


def parse_toml_text(text: str, path: str = '<string>') -> Any:
    """Parse TOML (``tomllib``, or ``tomli`` before Python 3.11) with errors naming the file and line.

    Raises:
        ConfigFileError: invalid TOML, or nested too deeply. ImportError: tomli missing on Python < 3.11.
    """
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # Python < 3.11
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ImportError as e:
            raise ImportError(f"reading {path!r} needs tomli on Python < 3.11: pip install "
                              f"'scitrera-app-framework[toml]'") from e
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        line = getattr(e, 'lineno', None)
        if line is None:
            m = re.search(r'line (\d+)', str(e))
            line = int(m.group(1)) if m else None
        msg = getattr(e, 'msg', None) or re.sub(r'\s*\(at line \d+, column \d+\)', '', str(e))
        raise ConfigFileError(path, line, f'invalid TOML: {msg}') from None
    except RecursionError:
        raise _depth_error(path, 'TOML') from None
    except ValueError as e:  # an integer too long to convert, ...
        raise ConfigFileError(path, None, f'invalid TOML: {type(e).__name__}: {str(e)[:200]}') from None
    return _check_depth(path, 'TOML', data)


__all__ = ['ConfigFileError', 'decode_utf8', 'read_text', 'parse_env_text', 'read_env_file', 'parse_yaml_text',
           'parse_yaml_document', 'parse_json_text', 'parse_toml_text', 'json_key_lines', 'JsonKey', 'toml_key_lines',
           'KeyLines', 'two_lines', 'MAX_DEPTH']
