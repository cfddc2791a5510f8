"""slaunch manifests: schema, loading (YAML / JSON file, http(s) URL or dict) and validation; the public surface.

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

Everything is defined in the package's private modules and re-exported here; import it from here:

- ``_model``: the validated data (:class:`Manifest`, :class:`EnvironmentSpec`, :class:`LibSpec`,
  :class:`AppSpec`) and the format constants;
- ``_load``: :func:`load_manifest` and :func:`parse_manifest_text`, which tie the steps below together;
- ``_fetch``: reading a file path, ``file://`` or ``http(s)://`` URL (size cap, UTF-8);
- ``_parse``: JSON / YAML text to data plus the line of every key, duplicate keys rejected;
- ``_marks``: key paths (``apps.myapp.entry``) and their lines, shared by parsing and checking;
- ``_checker``: typed value checks whose errors carry source, line and key path;
- ``_schema``: the keys above, what each must hold, reference resolution, building the :class:`Manifest`;
- ``_python_req``: the ``python`` requirement (:func:`python_satisfies`, :func:`check_python_requirement`).
"""

from __future__ import annotations

from ._load import load_manifest, parse_manifest_text
from ._model import DEFAULT_KEEP_VERSIONS, FORMAT_VERSION, AppSpec, EnvironmentSpec, LibSpec, Manifest
from ._python_req import check_python_requirement, python_satisfies

__all__ = [
    'FORMAT_VERSION', 'DEFAULT_KEEP_VERSIONS', 'EnvironmentSpec', 'LibSpec', 'AppSpec', 'Manifest',
    'load_manifest', 'parse_manifest_text', 'python_satisfies', 'check_python_requirement',
]
