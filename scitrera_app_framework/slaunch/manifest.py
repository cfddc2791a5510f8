"""slaunch manifests: schema, loading (YAML / JSON file, http(s) URL or dict) and validation.

Schema (format version 1). Keys marked * are required. In a settings mapping (the top level, an environment, a
lib, an app) a key starting with ``x-`` is ignored (use it for your own annotations) and any other unknown key is
an error, so typos do not pass silently; names of environments, libs and apps are never ignored::

    slaunch: 1                  # optional format version; only 1 is understood
    keep_versions: 2            # optional int >= 1: app versions / environment layers kept per app / environment
    environments:               # * mapping: environment name -> environment
      main:
        kind: venv              # optional: 'venv' (default; stdlib venv + pip) or 'conda' (needs conda/mamba)
        python: ">=3.9"         # optional version requirement the interpreter must satisfy (see below)
        interpreter: /usr/bin/python3.12   # optional (venv only): base interpreter; default the launcher's
        requirements:           # optional list of pip requirements (specs, wheel paths, local dirs)
          - requests>=2.31
        pip_args: [--no-index, --find-links, ./wheels]   # optional extra pip arguments for every install
        conda: [numpy]          # optional (conda only): conda packages
        channels: [conda-forge] # optional (conda only): conda channels
    libs:                       # optional mapping: lib name -> shared package installed into environments
      shared-utils:
        version: "1.2"          # optional; the default source is "<name>==<version>" (or just "<name>")
        source: ./wheels/shared_utils-{version}-py3-none-any.whl   # optional pip requirement / path / wheel
        environments: [main]    # optional list; default: every environment
    apps:                       # * mapping: app name -> app
      myapp:
        version: "1.0.0"        # * string (quote it in YAML: 1.10 would otherwise read as the number 1.1)
        environment: main       # the environment it runs in; optional when exactly one is defined
        source: ./dist/myapp-{version}-py3-none-any.whl   # optional; default "<name>==<version>"
        entry: myapp.cli:main   # * 'module' (run like python -m) or 'module:function' (exit code = return value)
        args: [--verbose]       # optional list of strings put before the launch arguments
        env: {MYAPP_MODE: prod} # optional mapping of environment variables (string values)
        pip_args: []            # optional extra pip arguments for installing this app (after the env's)
        install_deps: false     # optional: also install the app's own dependencies into its version dir
        keep_versions: 3        # optional: overrides the top-level keep_versions for this app

Names (environments, libs, apps, versions) must be 1-100 characters from letters, digits, ``.``, ``_``, ``-``
and ``+``, starting with a letter or digit: they become directory names below the slaunch root, so path
separators, ``..`` and absolute paths are rejected. ``{name}`` and ``{version}`` in a ``source`` are replaced by
the lib's / app's name and version. Values starting with ``./``, ``../`` or ``~/`` in ``requirements``,
``source`` and ``pip_args`` (also after ``=`` in ``--opt=./x``) are resolved against the manifest's directory
(the URL's directory for a URL manifest, the current directory for a dict); anything else is passed to pip as
is. Pip options in ``requirements`` and ``--target``/``--prefix``/``--root``/``--user`` in ``pip_args`` are
rejected: slaunch decides where packages go.

``python`` is a comma-separated list of clauses ``OP VERSION`` with OP one of ``>= <= > < == != ~=``; a bare
version (``3.11``) or ``==3.11.*`` matches that release series (any 3.11.x); otherwise versions are compared
with missing parts read as 0.

Every schema error is a :class:`ManifestError` naming the source, the line (for YAML and JSON text), the key
path (``apps.myapp.entry``) and what is expected. YAML is only ever loaded with PyYAML's safe loader; duplicate
keys are errors (the last one would silently win otherwise).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple, Union

from .errors import InvalidNameError, ManifestError, ManifestFetchError
from .paths import validate_name

__all__ = [
    'FORMAT_VERSION', 'DEFAULT_KEEP_VERSIONS', 'EnvironmentSpec', 'LibSpec', 'AppSpec', 'Manifest',
    'load_manifest', 'parse_manifest_text', 'python_satisfies', 'check_python_requirement',
]

FORMAT_VERSION = 1
DEFAULT_KEEP_VERSIONS = 2
_MAX_MANIFEST_BYTES = 5 * 1024 * 1024
_URL_TIMEOUT_S = 30.0

_TOP_KEYS = ('slaunch', 'keep_versions', 'environments', 'libs', 'apps')
_ENV_KEYS = ('kind', 'python', 'interpreter', 'requirements', 'pip_args', 'conda', 'channels', 'description')
_LIB_KEYS = ('version', 'source', 'environments', 'description')
_APP_KEYS = ('version', 'environment', 'source', 'entry', 'args', 'env', 'pip_args', 'install_deps',
             'keep_versions', 'description')
_KINDS = ('venv', 'conda')
_FORBIDDEN_PIP_ARGS = ('--target', '-t', '--prefix', '--root', '--user', '--home')
_ENV_VAR_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')
_PY_CLAUSE_RE = re.compile(r'\s*(~=|==|!=|<=|>=|<|>)?\s*(\d+(?:\.\d+){0,2})(\.\*)?\s*')

Path_ = Tuple[Union[str, int], ...]


@dataclass(frozen=True)
class EnvironmentSpec:
    """One entry of ``environments``."""

    name: str
    kind: str = 'venv'
    python: Optional[str] = None
    interpreter: Optional[str] = None
    requirements: Tuple[str, ...] = ()
    pip_args: Tuple[str, ...] = ()
    conda: Tuple[str, ...] = ()
    channels: Tuple[str, ...] = ()


@dataclass(frozen=True)
class LibSpec:
    """One entry of ``libs``: a shared package installed into the listed environments."""

    name: str
    source: str
    environments: Tuple[str, ...]
    version: Optional[str] = None


@dataclass(frozen=True)
class AppSpec:
    """One entry of ``apps``."""

    name: str
    version: str
    environment: str
    source: str
    entry: str
    args: Tuple[str, ...] = ()
    env: Dict[str, str] = field(default_factory=dict)
    pip_args: Tuple[str, ...] = ()
    install_deps: bool = False
    keep_versions: Optional[int] = None


@dataclass(frozen=True)
class Manifest:
    """A validated manifest. ``origin`` names where it came from (file path, URL or ``<dict>``)."""

    origin: str
    environments: Dict[str, EnvironmentSpec]
    apps: Dict[str, AppSpec]
    libs: Dict[str, LibSpec] = field(default_factory=dict)
    keep_versions: int = DEFAULT_KEEP_VERSIONS

    def environment_packages(self, env_name: str) -> Tuple[str, ...]:
        """Return the pip requirements of ``env_name``: its own ``requirements`` then the sources of its libs."""
        env = self.environments[env_name]
        libs = tuple(lib.source for lib in self.libs.values() if env_name in lib.environments)
        return env.requirements + libs

    def app_keep_versions(self, app_name: str) -> int:
        """Return how many versions of ``app_name`` to keep installed."""
        app = self.apps[app_name]
        return app.keep_versions if app.keep_versions is not None else self.keep_versions


# ----------------------------------------------------------------------------------------------------- loading


def load_manifest(source: Union[str, os.PathLike, Mapping[str, Any], Manifest],
                  base: Union[str, os.PathLike, None] = None) -> Manifest:
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
        return _build(source, '<dict>', _Marks(), base_ref)
    text, origin, fmt, default_base = _read_source(source)
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
        data = _parse_json(text, origin)
        marks = _marks_best_effort(text)
    else:
        data, marks = _parse_yaml(text, origin)
    return _build(data, origin, marks, base if base is not None else os.getcwd())


def _read_source(source: Union[str, os.PathLike]) -> Tuple[str, str, Optional[str], str]:
    """Return (text, origin, format or None, base for relative references)."""
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
    return text, origin, _format_from_name(path.name), str(path.parent.absolute())


def _fetch_url(url: str) -> Tuple[str, str, Optional[str], str]:
    import urllib.error
    import urllib.request
    from urllib.parse import urljoin, urlsplit

    try:
        with urllib.request.urlopen(url, timeout=_URL_TIMEOUT_S) as resp:  # noqa: S310 (http(s) only, checked)
            raw = resp.read(_MAX_MANIFEST_BYTES + 1)
            content_type = resp.headers.get('Content-Type', '') or ''
    except urllib.error.HTTPError as exc:
        raise ManifestFetchError(f'HTTP {exc.code} {exc.reason} while fetching the manifest', source=url) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, 'reason', exc)
        raise ManifestFetchError(f'cannot fetch the manifest: {reason}', source=url) from exc
    if len(raw) > _MAX_MANIFEST_BYTES:
        raise ManifestError(f'manifest is larger than {_MAX_MANIFEST_BYTES} bytes; is this the right URL?',
                            source=url)
    fmt = _format_from_name(urlsplit(url).path)
    if fmt is None and 'json' in content_type:
        fmt = 'json'
    return _decode(raw, url), url, fmt, urljoin(url, '.')


def _decode(raw: bytes, origin: str) -> str:
    try:
        text = raw.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = raw.count(b'\n', 0, exc.start) + 1
        raise ManifestError(f'not valid UTF-8 (byte {exc.start}); save the manifest as UTF-8', source=origin,
                            line=line) from None
    return text[1:] if text.startswith('\ufeff') else text


def _format_from_name(name: str) -> Optional[str]:
    lower = name.lower()
    if lower.endswith('.json'):
        return 'json'
    if lower.endswith(('.yaml', '.yml')):
        return 'yaml'
    return None


def _parse_json(text: str, origin: str) -> Any:
    def _pairs(pairs: list) -> dict:
        out: dict = {}
        for key, value in pairs:
            if key in out:
                raise _DuplicateKey(key)
            out[key] = value
        return out

    try:
        return json.loads(text, object_pairs_hook=_pairs)
    except json.JSONDecodeError as exc:
        raise ManifestError(f'invalid JSON: {exc.msg}', source=origin, line=exc.lineno, column=exc.colno) from None
    except _DuplicateKey as exc:
        line = _second_json_key_line(text, exc.key)
        raise ManifestError(f'duplicate key {exc.key!r}; each key may appear once per object (the later one '
                            'would silently win)', source=origin, line=line) from None


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _second_json_key_line(text: str, key: str) -> Optional[int]:
    pattern = re.compile(re.escape(json.dumps(key)) + r'\s*:')
    matches = list(pattern.finditer(text))
    if len(matches) < 2:
        return None
    return text.count('\n', 0, matches[1].start()) + 1


class _Marks:
    """Where things are in the manifest text: the line of every key / list item, the raw text of scalars."""

    def __init__(self) -> None:
        self.lines: Dict[Path_, int] = {}
        self.raw: Dict[Path_, str] = {}


def _parse_yaml(text: str, origin: str) -> Tuple[Any, _Marks]:
    import yaml

    loader = yaml.SafeLoader(text)
    marks = _Marks()
    try:
        node = loader.get_single_node()
        if node is not None:
            _walk_node(node, (), marks, origin, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or 'unparsable'
        if exc.context and exc.problem:
            problem = f'{exc.problem} ({exc.context})'
        raise ManifestError(f'invalid YAML: {problem}', source=origin,
                            line=mark.line + 1 if mark else None,
                            column=mark.column + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f'invalid YAML: {exc}', source=origin) from None
    finally:
        loader.dispose()
    return data, marks


def _walk_node(node: Any, path: Path_, marks: _Marks, origin: Optional[str], active: set) -> None:
    """Record the line of every key / item below ``node``; raise on duplicate keys when ``origin`` is given."""
    import yaml

    if id(node) in active or len(path) > 50:  # recursive alias or absurd nesting: stop recording
        return
    active.add(id(node))
    try:
        if isinstance(node, yaml.ScalarNode):
            marks.raw[path] = node.value
        elif isinstance(node, yaml.MappingNode):
            seen: Dict[Tuple[str, str], int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                line = key_node.start_mark.line + 1
                ident = (key_node.tag, key_node.value)
                if ident in seen and origin is not None:
                    raise ManifestError(f'duplicate key {key_node.value!r} (first defined on line {seen[ident]}); '
                                        'each key may appear once per mapping', source=origin, line=line,
                                        key_path=_format_path(path) or None)
                seen[ident] = line
                child = path + (key_node.value,)
                marks.lines.setdefault(child, line)
                _walk_node(value_node, child, marks, origin, active)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = path + (index,)
                marks.lines.setdefault(child, item.start_mark.line + 1)
                _walk_node(item, child, marks, origin, active)
    finally:
        active.discard(id(node))


def _marks_best_effort(text: str) -> _Marks:
    """Marks for JSON text, read with the YAML composer (JSON is nearly a YAML subset); empty on failure."""
    marks = _Marks()
    try:
        import yaml

        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
        if node is not None:
            _walk_node(node, (), marks, None, set())
    except Exception:  # noqa: BLE001 - purely cosmetic; errors are still reported, only without a line
        return _Marks()
    return marks


# -------------------------------------------------------------------------------------------------- validation


def _format_path(path: Path_) -> str:
    out = ''
    for part in path:
        if isinstance(part, int):
            out += f'[{part}]'
        elif re.fullmatch(r'[A-Za-z0-9_-]+', part):
            out += f'.{part}' if out else part
        else:
            out += f'[{part!r}]'
    return out


def _describe(value: Any) -> str:
    names = {dict: 'mapping', list: 'list', str: 'string', bool: 'boolean', int: 'integer', float: 'number',
             type(None): 'null'}
    kind = names.get(type(value), type(value).__name__)
    if value is None:
        return 'null'
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + '...'
    return f'{text} ({kind})'


class _Checker:
    """Schema-directed validation with errors that carry source, line and key path."""

    def __init__(self, origin: str, marks: _Marks, base: str) -> None:
        self.origin = origin
        self.marks = marks
        self.base = base

    def error(self, path: Path_, problem: str) -> ManifestError:
        line = None
        for cut in range(len(path), -1, -1):
            line = self.marks.lines.get(path[:cut])
            if line is not None:
                break
        return ManifestError(problem, source=self.origin, line=line, key_path=_format_path(path) or None)

    def mapping(self, value: Any, path: Path_, allowed: Tuple[str, ...], required: Tuple[str, ...] = (),
                what: str = 'a mapping') -> Dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(path, f'expected {what}, got {_describe(value)}')
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.error(path, f'keys must be strings, got {_describe(key)}; quote it')
            if key.startswith('x-'):
                continue
            if key not in allowed:
                import difflib

                hint = difflib.get_close_matches(key, allowed, n=1)
                suggestion = f"did you mean '{hint[0]}'? " if hint else ''
                raise self.error(path + (key,), f'unknown key; {suggestion}allowed keys: {", ".join(allowed)} '
                                                 "(prefix your own keys with 'x-')")
            out[key] = item
        for key in required:
            if key not in out:
                raise self.error(path + (key,), f'required key is missing; add {key}: {_REQUIRED_HINTS[key]}')
        return out

    def named_mapping(self, value: Any, path: Path_, what: str) -> Dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(path, f'expected a mapping of {what} name -> settings, got {_describe(value)}')
        out: Dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise self.error(path, f'{what} names must be strings, got {_describe(key)}; quote it')
            self.name(key, path + (key,), f'{what} name')
            out[key] = item
        return out

    def name(self, value: Any, path: Path_, what: str) -> str:
        try:
            return validate_name(value, what)
        except InvalidNameError as exc:
            raise self.error(path, str(exc)) from None

    def string(self, value: Any, path: Path_, what: str = 'a string', allow_empty: bool = False) -> str:
        if not isinstance(value, str):
            hint = ''
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                raw = self.marks.raw.get(path)
                hint = f'; quote it: "{raw}"' if raw else '; quote it'
            elif isinstance(value, bool):
                hint = '; quote it (YAML reads yes/no/on/off/true/false as booleans)'
            raise self.error(path, f'expected {what}, got {_describe(value)}{hint}')
        if not allow_empty and not value.strip():
            raise self.error(path, f'expected {what}, got an empty string')
        return value

    def string_list(self, value: Any, path: Path_, what: str) -> Tuple[str, ...]:
        if not isinstance(value, list):
            raise self.error(path, f'expected a list of {what}, got {_describe(value)}')
        return tuple(self.string(item, path + (i,), f'{what[:-1] if what.endswith("s") else what} (a string)')
                     for i, item in enumerate(value))

    def boolean(self, value: Any, path: Path_) -> bool:
        if not isinstance(value, bool):
            raise self.error(path, f'expected true or false, got {_describe(value)}')
        return value

    def positive_int(self, value: Any, path: Path_) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(path, f'expected an integer >= 1, got {_describe(value)}')
        return value

    # --------------------------------------------------------------------------------------------- references

    def resolve(self, value: str) -> str:
        """Resolve ``./``, ``../`` and ``~/`` references against the manifest's base."""
        if value.startswith('~/') or value.startswith('~\\'):
            return os.path.expanduser(value)
        if value in ('.', '..') or value.startswith(('./', '../', '.\\', '..\\')):
            if re.match(r'[A-Za-z][A-Za-z0-9+.-]*://', self.base):
                from urllib.parse import urljoin
                return urljoin(self.base if self.base.endswith('/') else self.base + '/', value.replace('\\', '/'))
            return os.path.normpath(os.path.join(self.base, value))
        return value

    def pip_args(self, value: Any, path: Path_) -> Tuple[str, ...]:
        args = self.string_list(value, path, 'pip arguments')
        out = []
        for i, arg in enumerate(args):
            option = arg.split('=', 1)[0]
            if option in _FORBIDDEN_PIP_ARGS or (arg.startswith('-t') and not arg.startswith('--')):
                raise self.error(path + (i,), f'{option} is not allowed in pip_args: slaunch decides where '
                                              'packages are installed')
            if arg.startswith('--') and '=' in arg:
                out.append(f'{option}={self.resolve(arg.split("=", 1)[1])}')
            else:
                out.append(self.resolve(arg))
        return tuple(out)

    def requirements(self, value: Any, path: Path_) -> Tuple[str, ...]:
        reqs = self.string_list(value, path, 'pip requirements')
        for i, req in enumerate(reqs):
            if req.lstrip().startswith('-'):
                raise self.error(path + (i,), f'{req!r} looks like a pip option; put options in pip_args and '
                                              'keep only requirements here')
        return tuple(self.resolve(req.strip()) for req in reqs)

    def source(self, value: Any, path: Path_, name: str, version: Optional[str]) -> str:
        text = self.string(value, path, 'a pip requirement, wheel path or URL')
        if text.lstrip().startswith('-'):
            raise self.error(path, f'{text!r} looks like a pip option; put options in pip_args')
        text = text.replace('{name}', name)
        if '{version}' in text:
            if version is None:
                raise self.error(path, "uses {version} but no version is set; add a 'version' key")
            text = text.replace('{version}', version)
        return self.resolve(text.strip())


_REQUIRED_HINTS = {
    'environments': 'a mapping of environment name -> settings (e.g. main: {requirements: []})',
    'apps': 'a mapping of app name -> settings (version, entry, ...)',
    'version': "the app's version as a quoted string (e.g. '1.0.0')",
    'entry': "'module' or 'module:function' (e.g. 'myapp.cli:main')",
    'environment': 'the name of one of the environments',
}


def _build(data: Any, origin: str, marks: _Marks, base: str) -> Manifest:
    chk = _Checker(origin, marks, base)
    if data is None:
        raise chk.error((), "the manifest is empty; expected a mapping with 'environments' and 'apps'")
    top = chk.mapping(data, (), _TOP_KEYS, ('environments', 'apps'),
                      what="a mapping with 'environments' and 'apps' at the top level")
    if 'slaunch' in top:
        fmt = top['slaunch']
        if isinstance(fmt, bool) or fmt != FORMAT_VERSION:
            raise chk.error(('slaunch',), f'unsupported manifest format {_describe(fmt)}; this slaunch understands '
                                          f'format {FORMAT_VERSION}')
    keep = chk.positive_int(top['keep_versions'], ('keep_versions',)) if 'keep_versions' in top \
        else DEFAULT_KEEP_VERSIONS

    raw_envs = chk.named_mapping(top['environments'], ('environments',), 'environment')
    if not raw_envs:
        raise chk.error(('environments',), 'no environments are defined; define at least one (e.g. main: {})')
    environments = {name: _build_env(chk, name, raw or {}) for name, raw in raw_envs.items()}

    libs: Dict[str, LibSpec] = {}
    if top.get('libs') is not None:
        for name, raw in chk.named_mapping(top['libs'], ('libs',), 'lib').items():
            libs[name] = _build_lib(chk, name, raw or {}, environments)

    apps: Dict[str, AppSpec] = {}
    raw_apps = chk.named_mapping(top['apps'], ('apps',), 'app')
    for name, raw in raw_apps.items():
        apps[name] = _build_app(chk, name, raw, environments)
    return Manifest(origin=origin, environments=environments, apps=apps, libs=libs, keep_versions=keep)


def _build_env(chk: _Checker, name: str, raw: Any) -> EnvironmentSpec:
    path: Path_ = ('environments', name)
    body = chk.mapping(raw, path, _ENV_KEYS)
    kind = chk.string(body.get('kind', 'venv'), path + ('kind',), "'venv' or 'conda'")
    if kind not in _KINDS:
        raise chk.error(path + ('kind',), f"unknown kind {kind!r}; expected 'venv' or 'conda'")
    python = None
    if body.get('python') is not None:
        python = chk.string(body['python'], path + ('python',), "a version requirement such as '>=3.9'")
        try:
            _parse_python_spec(python)
        except ValueError as exc:
            raise chk.error(path + ('python',), str(exc)) from None
    interpreter = None
    if body.get('interpreter') is not None:
        if kind != 'venv':
            raise chk.error(path + ('interpreter',), 'only venv environments take an interpreter; conda installs '
                                                     'the python named by the python key')
        interpreter = chk.resolve(chk.string(body['interpreter'], path + ('interpreter',), 'an interpreter path'))
    conda: Tuple[str, ...] = ()
    channels: Tuple[str, ...] = ()
    for key in ('conda', 'channels'):
        if body.get(key) is not None and kind != 'conda':
            raise chk.error(path + (key,), f"'{key}' needs kind: conda (this environment is a venv)")
    if body.get('conda') is not None:
        conda = chk.string_list(body['conda'], path + ('conda',), 'conda packages')
    if body.get('channels') is not None:
        channels = chk.string_list(body['channels'], path + ('channels',), 'conda channels')
    requirements = chk.requirements(body['requirements'], path + ('requirements',)) \
        if body.get('requirements') is not None else ()
    pip_args = chk.pip_args(body['pip_args'], path + ('pip_args',)) if body.get('pip_args') is not None else ()
    return EnvironmentSpec(name=name, kind=kind, python=python, interpreter=interpreter, requirements=requirements,
                           pip_args=pip_args, conda=conda, channels=channels)


def _build_lib(chk: _Checker, name: str, raw: Any, environments: Dict[str, EnvironmentSpec]) -> LibSpec:
    path: Path_ = ('libs', name)
    body = chk.mapping(raw, path, _LIB_KEYS)
    version = chk.string(body['version'], path + ('version',), 'a version string') \
        if body.get('version') is not None else None
    if 'source' in body:
        source = chk.source(body['source'], path + ('source',), name, version)
    else:
        source = f'{name}=={version}' if version else name
    envs: Tuple[str, ...] = tuple(environments)
    if body.get('environments') is not None:
        envs = chk.string_list(body['environments'], path + ('environments',), 'environment names')
        for i, env_name in enumerate(envs):
            _check_env_ref(chk, env_name, path + ('environments', i), environments)
    return LibSpec(name=name, source=source, environments=envs, version=version)


def _build_app(chk: _Checker, name: str, raw: Any, environments: Dict[str, EnvironmentSpec]) -> AppSpec:
    path: Path_ = ('apps', name)
    required: Tuple[str, ...] = ('version', 'entry') if len(environments) == 1 else ('version', 'environment',
                                                                                      'entry')
    body = chk.mapping(raw, path, _APP_KEYS, required)
    version = chk.string(body['version'], path + ('version',), 'a version string')
    chk.name(version, path + ('version',), 'app version')
    if 'environment' in body:
        env_name = chk.string(body['environment'], path + ('environment',), 'an environment name')
        _check_env_ref(chk, env_name, path + ('environment',), environments)
    else:
        env_name = next(iter(environments))
    source = chk.source(body['source'], path + ('source',), name, version) if 'source' in body \
        else f'{name}=={version}'
    entry = chk.string(body['entry'], path + ('entry',), "'module' or 'module:function'")
    if not _valid_entry(entry):
        raise chk.error(path + ('entry',), f"invalid entry point {entry!r}; expected 'module' or 'module:function' "
                                           "with dotted Python identifiers (e.g. 'myapp.cli:main')")
    args = chk.string_list(body['args'], path + ('args',), 'arguments') if body.get('args') is not None else ()
    env: Dict[str, str] = {}
    if body.get('env') is not None:
        raw_env = body['env']
        if not isinstance(raw_env, Mapping):
            raise chk.error(path + ('env',), f'expected a mapping of NAME: value, got {_describe(raw_env)}')
        for key, value in raw_env.items():
            if not isinstance(key, str) or not _ENV_VAR_RE.fullmatch(key):
                raise chk.error(path + ('env', str(key)), f'invalid environment variable name {key!r}; use '
                                                          'letters, digits and _ (not starting with a digit)')
            env[key] = chk.string(value, path + ('env', key), 'a string value', allow_empty=True)
    pip_args = chk.pip_args(body['pip_args'], path + ('pip_args',)) if body.get('pip_args') is not None else ()
    install_deps = chk.boolean(body['install_deps'], path + ('install_deps',)) if 'install_deps' in body else False
    keep = chk.positive_int(body['keep_versions'], path + ('keep_versions',)) \
        if body.get('keep_versions') is not None else None
    return AppSpec(name=name, version=version, environment=env_name, source=source, entry=entry, args=args,
                   env=env, pip_args=pip_args, install_deps=install_deps, keep_versions=keep)


def _check_env_ref(chk: _Checker, env_name: str, path: Path_, environments: Dict[str, EnvironmentSpec]) -> None:
    if env_name not in environments:
        defined = ', '.join(sorted(environments)) or '(none)'
        raise chk.error(path, f'unknown environment {env_name!r}; defined environments: {defined} (define it '
                              'under environments: or fix the name)')


def _valid_entry(entry: str) -> bool:
    module, sep, attr = entry.partition(':')
    parts = module.split('.') + (attr.split('.') if sep else [])
    return all(part.isidentifier() for part in parts)


# ------------------------------------------------------------------------------------------ python requirement


def _parse_python_spec(spec: str) -> Tuple[Tuple[str, Tuple[int, ...], bool], ...]:
    clauses = []
    for raw in spec.split(','):
        match = _PY_CLAUSE_RE.fullmatch(raw)
        if not match:
            raise ValueError(f'invalid python requirement clause {raw.strip()!r} in {spec!r}; expected clauses like '
                             "'>=3.9', '<3.13', '3.11' or '==3.11.*' separated by commas")
        op, version, star = match.group(1) or '', match.group(2), bool(match.group(3))
        if star and op not in ('', '==', '!='):
            raise ValueError(f"'.*' is only allowed with == or != (in {spec!r})")
        if op == '~=' and version.count('.') == 0:
            raise ValueError(f"'~=' needs at least two version parts (in {spec!r}), e.g. '~=3.10'")
        clauses.append((op, tuple(int(p) for p in version.split('.')), star or op == ''))
    return tuple(clauses)


def python_satisfies(version: Tuple[int, ...], spec: str) -> bool:
    """Return True if the interpreter ``version`` (e.g. ``(3, 11, 7)``) satisfies the requirement ``spec``.

    Raises ``ValueError`` for a malformed ``spec``.
    """
    full = tuple(version[:3]) + (0,) * (3 - len(version[:3]))
    for op, want, prefix in _parse_python_spec(spec):
        padded = want + (0,) * (3 - len(want))
        if prefix:
            same = full[:len(want)] == want
            ok = not same if op == '!=' else same
        elif op == '==':
            ok = full == padded
        elif op == '!=':
            ok = full != padded
        elif op == '>=':
            ok = full >= padded
        elif op == '<=':
            ok = full <= padded
        elif op == '>':
            ok = full > padded
        elif op == '<':
            ok = full < padded
        else:  # ~=X.Y[.Z]: >= X.Y[.Z] and the same release series up to the last given part
            ok = full >= padded and full[:len(want) - 1] == want[:-1]
        if not ok:
            return False
    return True


def check_python_requirement(env: EnvironmentSpec, version: Tuple[int, ...]) -> Optional[str]:
    """Return None if ``version`` satisfies ``env.python`` (or it is unset), else a message saying what is wrong."""
    if env.python is None or python_satisfies(version, env.python):
        return None
    shown = '.'.join(str(p) for p in version[:3])
    return (f"environment {env.name!r} requires python {env.python!r} but the interpreter is {shown}; run the "
            "launcher with a matching python or set 'interpreter' in the environment")
