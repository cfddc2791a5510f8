"""The manifest schema (format 1, documented in :mod:`.manifest`): which keys exist, what each must hold, and
:func:`build`, which turns loaded data into a :class:`Manifest` or raises the first :class:`ManifestError`.

Relative references (``./``, ``../``, ``~/``) in ``requirements``, ``source``, ``pip_args`` and ``interpreter``
are resolved here, against the manifest's base.
"""

from __future__ import annotations

import os
import re
from typing import Any, Dict, Mapping, Optional, Tuple

from ._checker import Checker, describe
from ._marks import KeyPath, Marks
from ._model import DEFAULT_KEEP_VERSIONS, FORMAT_VERSION, AppSpec, EnvironmentSpec, LibSpec, Manifest
from ._python_req import parse_python_spec

_TOP_KEYS = ('slaunch', 'keep_versions', 'environments', 'libs', 'apps')
_ENV_KEYS = ('kind', 'python', 'interpreter', 'requirements', 'pip_args', 'conda', 'channels', 'description')
_LIB_KEYS = ('version', 'source', 'environments', 'description')
_APP_KEYS = ('version', 'environment', 'source', 'entry', 'args', 'env', 'pip_args', 'install_deps',
             'keep_versions', 'description')
_KINDS = ('venv', 'conda')
_FORBIDDEN_PIP_ARGS = ('--target', '-t', '--prefix', '--root', '--user', '--home')
_ENV_VAR_RE = re.compile(r'[A-Za-z_][A-Za-z0-9_]*')

_REQUIRED_HINTS = {
    'environments': 'a mapping of environment name -> settings (e.g. main: {requirements: []})',
    'apps': 'a mapping of app name -> settings (version, entry, ...)',
    'version': "the app's version as a quoted string (e.g. '1.0.0')",
    'entry': "'module' or 'module:function' (e.g. 'myapp.cli:main')",
    'environment': 'the name of one of the environments',
}


class _ManifestChecker(Checker):
    """:class:`Checker` plus the manifest's pip values and references, resolved against the manifest's base."""

    required_hints = _REQUIRED_HINTS

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

    def pip_args(self, value: Any, path: KeyPath) -> Tuple[str, ...]:
        """Return pip arguments with references resolved; options that choose the install location are errors."""
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

    def requirements(self, value: Any, path: KeyPath) -> Tuple[str, ...]:
        """Return pip requirements with references resolved; a pip option among them is an error."""
        reqs = self.string_list(value, path, 'pip requirements')
        for i, req in enumerate(reqs):
            if req.lstrip().startswith('-'):
                raise self.error(path + (i,), f'{req!r} looks like a pip option; put options in pip_args and '
                                              'keep only requirements here')
        return tuple(self.resolve(req.strip()) for req in reqs)

    def source(self, value: Any, path: KeyPath, name: str, version: Optional[str]) -> str:
        """Return a lib's / app's source with ``{name}`` / ``{version}`` filled in and references resolved."""
        text = self.string(value, path, 'a pip requirement, wheel path or URL')
        if text.lstrip().startswith('-'):
            raise self.error(path, f'{text!r} looks like a pip option; put options in pip_args')
        text = text.replace('{name}', name)
        if '{version}' in text:
            if version is None:
                raise self.error(path, "uses {version} but no version is set; add a 'version' key")
            text = text.replace('{version}', version)
        return self.resolve(text.strip())


def build(data: Any, origin: str, marks: Marks, base: str) -> Manifest:
    """Return the :class:`Manifest` described by loaded ``data``.

    ``origin`` and ``marks`` place errors (source, line); ``base`` is what relative references resolve against.
    Raises :class:`ManifestError` naming the key path and what is expected there.
    """
    chk = _ManifestChecker(origin, marks, base)
    if data is None:
        raise chk.error((), "the manifest is empty; expected a mapping with 'environments' and 'apps'")
    top = chk.mapping(data, (), _TOP_KEYS, ('environments', 'apps'),
                      what="a mapping with 'environments' and 'apps' at the top level")
    if 'slaunch' in top:
        fmt = top['slaunch']
        if isinstance(fmt, bool) or fmt != FORMAT_VERSION:
            raise chk.error(('slaunch',), f'unsupported manifest format {describe(fmt)}; this slaunch understands '
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


def _build_env(chk: _ManifestChecker, name: str, raw: Any) -> EnvironmentSpec:
    path: KeyPath = ('environments', name)
    body = chk.mapping(raw, path, _ENV_KEYS)
    kind = chk.string(body.get('kind', 'venv'), path + ('kind',), "'venv' or 'conda'")
    if kind not in _KINDS:
        raise chk.error(path + ('kind',), f"unknown kind {kind!r}; expected 'venv' or 'conda'")
    python = None
    if body.get('python') is not None:
        python = chk.string(body['python'], path + ('python',), "a version requirement such as '>=3.9'")
        try:
            parse_python_spec(python)
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


def _build_lib(chk: _ManifestChecker, name: str, raw: Any, environments: Dict[str, EnvironmentSpec]) -> LibSpec:
    path: KeyPath = ('libs', name)
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


def _build_app(chk: _ManifestChecker, name: str, raw: Any, environments: Dict[str, EnvironmentSpec]) -> AppSpec:
    path: KeyPath = ('apps', name)
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
            raise chk.error(path + ('env',), f'expected a mapping of NAME: value, got {describe(raw_env)}')
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
                   env=env, pip_args=pip_args, install_deps=install_deps, keep_versions=keep,
                   entry_location=chk.location(path + ('entry',)))


def _check_env_ref(chk: _ManifestChecker, env_name: str, path: KeyPath,
                   environments: Dict[str, EnvironmentSpec]) -> None:
    if env_name not in environments:
        defined = ', '.join(sorted(environments)) or '(none)'
        raise chk.error(path, f'unknown environment {env_name!r}; defined environments: {defined} (define it '
                              'under environments: or fix the name)')


def _valid_entry(entry: str) -> bool:
    module, sep, attr = entry.partition(':')
    parts = module.split('.') + (attr.split('.') if sep else [])
    return all(part.isidentifier() for part in parts)
