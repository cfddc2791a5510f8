"""The package version, in a module of its own so every layer may read it (setuptools reads it here too)."""

__version__ = '0.1.0'

__all__ = ['__version__']
