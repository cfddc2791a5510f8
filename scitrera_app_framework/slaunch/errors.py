"""Exception types raised by slaunch. Every message names what is wrong and how to fix it."""

from __future__ import annotations

from typing import Optional

from ..exceptions import SAFError

__all__ = ['SlaunchError', 'ManifestError', 'ManifestFetchError', 'InvalidNameError', 'InstallError', 'IntegrityError',
           'StateError', 'DeployError']


class SlaunchError(SAFError):
    """Base class of every error slaunch raises on purpose (user errors, failed installs)."""


class ManifestError(SlaunchError, ValueError):
    """A manifest is malformed or does not match the schema.

    The message reads ``<source>[:<line>[:<column>]]: [<key path>: ]<problem>``; the parts are also available as
    attributes (``source``, ``line``, ``column``, ``key_path``, ``problem``).
    """

    def __init__(self, problem: str, *, source: Optional[str] = None, line: Optional[int] = None,
                 column: Optional[int] = None, key_path: Optional[str] = None) -> None:
        self.problem = problem
        self.source = source
        self.line = line
        self.column = column
        self.key_path = key_path
        location = source or '<manifest>'
        if line is not None:
            location += f':{line}'
            if column is not None:
                location += f':{column}'
        parts = [location]
        if key_path:
            parts.append(key_path)
        parts.append(problem)
        super().__init__(': '.join(parts))


class ManifestFetchError(ManifestError):
    """The manifest could not be read at all (missing file, network failure, HTTP error).

    Unlike a manifest with invalid content, this lets :func:`launch_app` fall back to the installed version.
    """


class InvalidNameError(SlaunchError, ValueError):
    """An environment, app, lib or version name is unsafe: it would escape the slaunch root or is not portable."""


class InstallError(SlaunchError):
    """Creating an environment or installing packages failed. ``output`` holds the tool's output, if any."""

    def __init__(self, message: str, *, output: str = '') -> None:
        self.output = output
        super().__init__(message)


class IntegrityError(InstallError):
    """Installed files differ from their recorded hashes (or are gone) and could not be repaired."""


class StateError(SlaunchError):
    """The slaunch state file (or an installed directory's file list) is unreadable or corrupt."""


class DeployError(SlaunchError, ValueError):
    """Deploying to a central repository failed (bad source directory, unsafe name, version already there, a full
    disk). A ``ValueError``, as the original's deploy raised."""
