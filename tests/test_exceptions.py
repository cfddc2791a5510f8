"""One base for every framework error (keeping the standard bases), all importable from ``exceptions``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import scitrera_app_framework
from scitrera_app_framework import exceptions
from scitrera_app_framework.exceptions import ConfigurationError, SAFError

# not errors: the shutdown's unwinding exceptions are SystemExit on purpose
NOT_ERRORS = {'ShutdownRequested', 'ShutdownInterrupt'}
OPTIONAL_MODULES = ('scitrera_app_framework.testing.pytest_plugin',)


def _package_modules() -> list[str]:
    names = [scitrera_app_framework.__name__]
    for info in pkgutil.walk_packages(scitrera_app_framework.__path__, scitrera_app_framework.__name__ + '.'):
        names.append(info.name)
    return names


def test_every_exported_error_derives_from_saferror() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        assert issubclass(cls, SAFError), name


@pytest.mark.parametrize('name, std', [
    ('VariableTypeError', ValueError), ('ConfigFileError', ValueError), ('ExtensionNotFoundError', LookupError),
    ('PluginInitError', RuntimeError), ('StatefulDirError', OSError), ('TenantIdError', ValueError),
    ('ManifestError', ValueError), ('KubeConfigError', RuntimeError), ('ConfigurationError', ValueError),
])
def test_standard_bases_are_kept(name: str, std: type) -> None:
    assert issubclass(getattr(exceptions, name), std)


def test_every_error_class_in_the_package_is_a_saferror_and_listed() -> None:
    """Scans every module: a new public error class must derive from SAFError and be listed in exceptions."""
    missing = []
    for modname in _package_modules():
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            if modname in OPTIONAL_MODULES:
                continue
            raise
        for name, obj in vars(mod).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == modname
                    and not name.startswith('_') and name not in NOT_ERRORS):
                if not issubclass(obj, SAFError) or name not in exceptions.__all__:
                    missing.append(f'{modname}.{name}')
    assert missing == []


def test_top_level_exports() -> None:
    assert scitrera_app_framework.SAFError is SAFError
    assert scitrera_app_framework.ConfigurationError is ConfigurationError
    with pytest.raises(AttributeError):
        exceptions.NoSuchError  # noqa: B018
