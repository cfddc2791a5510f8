"""One base for every framework error (keeping the standard bases), each listed in ``exceptions._WHERE`` with its
home module (where it is defined and imported from)."""

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


def _error(name: str) -> type:
    """The error class from its home (``exceptions`` for the two base classes, else ``exceptions._WHERE``)."""
    home = 'exceptions' if name in exceptions.__all__ else exceptions._WHERE[name]
    cls: type = getattr(importlib.import_module(f'scitrera_app_framework.{home}'), name)
    return cls


def test_every_listed_error_derives_from_saferror() -> None:
    for name in [*exceptions.__all__, *exceptions._WHERE]:
        assert issubclass(_error(name), SAFError), name


@pytest.mark.parametrize('name, std', [
    ('VariableTypeError', ValueError), ('ConfigFileError', ValueError), ('ExtensionNotFoundError', LookupError),
    ('PluginInitError', RuntimeError), ('StatefulDirError', OSError), ('TenantIdError', ValueError),
    ('ManifestError', ValueError), ('KubeConfigError', RuntimeError), ('ConfigurationError', ValueError),
])
def test_standard_bases_are_kept(name: str, std: type) -> None:
    assert issubclass(_error(name), std)


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
                if not issubclass(obj, SAFError) or name not in {*exceptions.__all__, *exceptions._WHERE}:
                    missing.append(f'{modname}.{name}')
    assert missing == []


def test_top_level_exports() -> None:
    with pytest.warns(DeprecationWarning, match=r'import it from scitrera_app_framework\.exceptions'):
        assert scitrera_app_framework.SAFError is SAFError
    with pytest.warns(DeprecationWarning, match=r'import it from scitrera_app_framework\.exceptions'):
        assert scitrera_app_framework.ConfigurationError is ConfigurationError
    with pytest.raises(AttributeError):
        exceptions.NoSuchError  # noqa: B018
