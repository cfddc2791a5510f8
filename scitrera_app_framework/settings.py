"""Typed settings: a class of annotated fields, resolved through the :class:`Variables` layers.

::

    from __future__ import annotations
    from typing import Optional
    from scitrera_app_framework.settings import Secret, Settings, field

    class DbSettings(Settings, prefix='DB'):
        host: str = 'localhost'
        port: int = 5432
        password: Secret[str]                          # required (no default); masked everywhere
        replicas: list[str] = []                       # DB_REPLICAS=a,b or a list from a file source
        timeout: Optional[float] = field(None, help='seconds; empty: no timeout')

    class AppSettings(Settings, prefix='MYAPP'):
        debug: bool = False
        db: DbSettings                                 # a group: MYAPP_DB_HOST, MYAPP_DB_PORT, ...

    s = AppSettings.load(v)                            # or bind_settings(AppSettings, v)
    s.db.port                                          # 5432: a plain attribute read
    s.db.password.get()                                # the secret itself; repr and str show '****'

**Resolution.** Each field is read with ``v.environ(NAME, default, type_fn)``: the environment (key upper-cased)
beats local values, which beat extra sources, which beat the field's default; the default and the type function
are registered with ``v``. ``NAME`` is ``PREFIX_FIELD`` (``field(env=...)`` sets it outright); a group's prefix is
``field(prefix=...)``, else its class prefix, else the field name upper-cased, joined to its parent's with ``_``.

**Types.** ``str``, ``int``, ``float``, ``bool`` (``parse_bool_strict``), ``Optional[X]`` (empty or absent: None),
``list/tuple/set/frozenset[X]`` (a list, JSON list text or a comma-separated string; items converted),
``dict[str, X]`` (a mapping or JSON object text), ``Path``, an ``Enum`` (by value or name), ``timedelta`` (from
seconds), ``Literal[...]``, ``Union[...]``, ``Secret[X]``, another :class:`Settings` class (a group), or any class
that takes the value as its one argument. ``Annotated[int, 'help text']`` gives a field its help.

**Errors.** A field without a default is required: absent, None or an empty string is missing. Every missing
required field and every bad value is reported at once in a :class:`SettingsError`
(a ``ConfigurationError``: a ``ValueError`` and a ``SAFError``), one line per problem with the variable, what is
wrong, the value (masked for secrets, at most 200 characters) and the expected type; ``.errors`` has them as
:class:`SettingsProblem` items. Variables under a prefix that no field reads (``DB_HOTS``) are logged once as a
WARNING with a did-you-mean (class keyword ``unknown='warn'``), reported in the error (``'fail'``) or ignored
(``'ignore'``); the most specific prefix's policy applies, names other code declared (a registered default or
type function) are not reported, and a class without a prefix checks no names of its own.

**Snapshots.** A loaded object holds plain attribute values fixed at load time: reading one is as cheap as
reading any attribute, and it does not follow later changes on its own. After changing the environment or a
source, or after ``Variables.reload()``, call :meth:`Settings.reload`, which re-reads every field and updates the
object (and its groups) in place, or raises :class:`SettingsError` and keeps the old values. A natural place is a
``v.on_reload`` callback. Fields are replaced one by one: a thread reading while another reloads may see some
old and some new values; for one consistent view, ``load()`` a new object and swap the reference instead.
"""

from __future__ import annotations

from ._settings_core import FieldInfo, Settings, SettingsError, SettingsProblem, bind_settings, field
from ._settings_types import InvalidValue, Secret

__all__ = ['Settings', 'Secret', 'SettingsError', 'SettingsProblem', 'FieldInfo', 'field', 'bind_settings',
           'InvalidValue']
