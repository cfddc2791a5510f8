"""Typed settings (``scitrera_app_framework.settings``): every field kind, groups, secrets never printed, one error
for every problem, unknown keys, reload, precedence, mutable defaults, string annotations (Python 3.9)."""

from __future__ import annotations

import copy
import datetime
import enum
import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import pytest

from scitrera_app_framework import Variables
from scitrera_app_framework.api import EnvPlacement
from scitrera_app_framework.exceptions import ConfigurationError, SAFError
from scitrera_app_framework.settings import (
    FieldInfo,
    InvalidValue,
    Secret,
    Settings,
    SettingsError,
    SettingsProblem,
    bind_settings,
    field,
)
from scitrera_app_framework.util.secrets import MASK, is_secret_key, reset_secret_patterns

ROOT = Path(__file__).resolve().parent.parent
SECRET_VALUE = 'hunter2-Zq8'  # must never appear in any output


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch) -> Any:
    for k in list(os.environ):
        if k.startswith(('DB_', 'SVC_', 'APP_', 'KIND_', 'PRI_', 'MYAPP_', 'T_')):
            monkeypatch.delenv(k)
    reset_secret_patterns()
    yield
    reset_secret_patterns()


class Color(enum.Enum):
    RED = 'red'
    GREEN = 'green'


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class DbSettings(Settings, prefix='DB'):
    host: str = 'localhost'
    port: int = 5432
    password: Secret[str]
    replicas: list[str] = []


class Kinds(Settings, prefix='KIND'):
    s: str = 'x'
    i: int = 1
    f: float = 1.5
    b: bool = False
    opt_i: Optional[int] = None
    opt_s: Optional[str] = 'dflt'
    opt_nodefault: Optional[float]
    li: list[int] = []
    tu: tuple[int, ...] = ()
    pair: tuple[str, int] = ('a', 1)
    st: set[str] = set()
    fs: frozenset[int] = frozenset()
    d: dict[str, int] = {}
    p: Path = Path('/tmp')
    color: Color = Color.RED
    level: Level = Level.LOW
    ttl: datetime.timedelta = datetime.timedelta(seconds=5)
    mode: Literal['fast', 'slow'] = 'fast'
    either: Union[int, str] = 0
    anything: Any = None
    help_field: Annotated[int, 'the help text'] = 7
    with_field: int = field(3, help='from field()')
    custom_env: str = field('c', env='SOME_OTHER_NAME_T')
    factory: list[str] = field(default_factory=lambda: ['f'])


def _vars(**local: Any) -> Variables:
    v = Variables()
    v.update(local)
    return v


# ----------------------------------------------------------------------------------------------------------------------
# field kinds


def test_defaults_when_nothing_is_set() -> None:
    k = Kinds.load(Variables())
    assert (k.s, k.i, k.f, k.b) == ('x', 1, 1.5, False)
    assert k.opt_i is None and k.opt_s == 'dflt' and k.opt_nodefault is None
    assert k.li == [] and k.tu == () and k.pair == ('a', 1) and k.st == set() and k.fs == frozenset()
    assert k.d == {} and k.p == Path('/tmp') and k.color is Color.RED and k.level is Level.LOW
    assert k.ttl == datetime.timedelta(seconds=5) and k.mode == 'fast' and k.either == 0 and k.anything is None
    assert k.help_field == 7 and k.with_field == 3 and k.custom_env == 'c' and k.factory == ['f']


def test_every_kind_from_environment_strings(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        'KIND_S': 'hello', 'KIND_I': ' 42 ', 'KIND_F': '2.5', 'KIND_B': 'on', 'KIND_OPT_I': '9', 'KIND_OPT_S': '',
        'KIND_OPT_NODEFAULT': '0.25', 'KIND_LI': '1, 2,3', 'KIND_TU': '4,5', 'KIND_PAIR': 'z, 9', 'KIND_ST': 'a,b,a',
        'KIND_FS': '1,1,2', 'KIND_D': '{"a": 1, "b": "2"}', 'KIND_P': '/var/data', 'KIND_COLOR': 'GREEN',
        'KIND_LEVEL': '2', 'KIND_TTL': '1.5', 'KIND_MODE': 'slow', 'KIND_EITHER': 'word', 'KIND_ANYTHING': 'raw',
        'KIND_HELP_FIELD': '8', 'KIND_WITH_FIELD': '4', 'SOME_OTHER_NAME_T': 'other', 'KIND_FACTORY': 'q',
    }
    for k, val in env.items():
        monkeypatch.setenv(k, val)
    k = Kinds.load(Variables())
    assert (k.s, k.i, k.f, k.b) == ('hello', 42, 2.5, True)
    assert k.opt_i == 9 and k.opt_s is None and k.opt_nodefault == 0.25  # empty Optional gives None
    assert k.li == [1, 2, 3] and k.tu == (4, 5) and k.pair == ('z', 9) and k.st == {'a', 'b'} and k.fs == {1, 2}
    assert k.d == {'a': 1, 'b': 2} and k.p == Path('/var/data') and k.color is Color.GREEN
    assert k.level is Level.HIGH and k.ttl == datetime.timedelta(seconds=1.5) and k.mode == 'slow'
    assert k.either == 'word' and k.anything == 'raw' and k.help_field == 8 and k.with_field == 4
    assert k.custom_env == 'other' and k.factory == ['q']


def test_every_kind_from_native_values() -> None:
    v = _vars(KIND_I=3, KIND_F=2, KIND_B=True, KIND_LI=[1, '2'], KIND_TU=[7], KIND_ST=('x',), KIND_D={'k': '5'},
              KIND_P=Path('rel'), KIND_COLOR=Color.GREEN, KIND_LEVEL=Level.HIGH, KIND_TTL=60,
              KIND_EITHER=12, KIND_OPT_I=None)
    k = Kinds.load(v)
    assert (k.i, k.f, k.b) == (3, 2.0, True) and isinstance(k.f, float)
    assert k.li == [1, 2] and k.tu == (7,) and k.st == {'x'} and k.d == {'k': 5} and k.p == Path('rel')
    assert k.color is Color.GREEN and k.level is Level.HIGH and k.ttl == datetime.timedelta(minutes=1)
    assert k.either == 12 and k.opt_i is None


def test_enum_by_value_or_name_any_case() -> None:
    assert Kinds.load(_vars(KIND_COLOR='red')).color is Color.RED
    assert Kinds.load(_vars(KIND_COLOR='Green')).color is Color.GREEN
    assert Kinds.load(_vars(KIND_LEVEL='high')).level is Level.HIGH
    assert Kinds.load(_vars(KIND_LEVEL=1)).level is Level.LOW


def test_lists_from_json_text_and_empty_string() -> None:
    k = Kinds.load(_vars(KIND_LI='[1, 2]', KIND_D='', KIND_ST=' '))
    assert k.li == [1, 2] and k.d == {} and k.st == set()


@pytest.mark.parametrize('value', ['yes', 'Y', 'true', '1', 'on', ' ON '])
def test_bool_true_spellings(value: str) -> None:
    assert Kinds.load(_vars(KIND_B=value)).b is True


@pytest.mark.parametrize('value', ['no', 'off', 'false', '0', 'F', ''])
def test_bool_false_spellings(value: str) -> None:
    assert Kinds.load(_vars(KIND_B=value)).b is False


@pytest.mark.parametrize(('var', 'value', 'expect'), [
    ('KIND_I', 'abc', 'expected a whole number'),
    ('KIND_I', '1.5', 'expected a whole number'),
    ('KIND_I', True, 'got a boolean'),
    ('KIND_F', 'x1', 'expected a number'),
    ('KIND_B', 'enabled', 'expected a boolean'),
    ('KIND_LI', '1,x', 'item 2: expected a whole number'),
    ('KIND_LI', '[1,', 'not a JSON list'),
    ('KIND_LI', 5, 'expected a list'),
    ('KIND_PAIR', 'a,b', 'item 2: expected a whole number'),
    ('KIND_PAIR', 'a', 'expected 2 items, got 1'),
    ('KIND_D', '{not json', 'expected a JSON object'),
    ('KIND_D', '[1]', 'expected a mapping or a JSON object'),
    ('KIND_D', '{"a": "x"}', "key 'a': expected a whole number"),
    ('KIND_P', '', 'expected a path'),
    ('KIND_COLOR', 'blue', 'expected one of: red, green'),
    ('KIND_TTL', 'soon', 'expected a number of seconds'),
    ('KIND_TTL', 'nan', 'expected a finite number of seconds'),
    ('KIND_MODE', 'medium', "expected one of: 'fast', 'slow'"),
    ('KIND_S', ['a'], 'expected a string, got a list'),
])
def test_bad_value_message(var: str, value: Any, expect: str) -> None:
    with pytest.raises(SettingsError) as ei:
        Kinds.load(_vars(**{var: value}))
    (problem,) = ei.value.errors
    assert problem.variable == var and problem.kind == 'invalid' and problem.source == 'local'
    assert expect in problem.message, problem.message
    assert expect in str(ei.value)


def test_unsupported_annotation_is_a_type_error_naming_the_field() -> None:
    class Bad(Settings, prefix='T'):
        x: Callable_  # noqa: F821 - a name that cannot be resolved

    with pytest.raises(TypeError, match=r'Bad: cannot resolve an annotation'):
        Bad.load(Variables())

    class Bad2(Settings, prefix='T'):
        y: list[Optional] = []  # type: ignore[type-arg]

    with pytest.raises(TypeError, match=r'Bad2\.y: no type function'):
        Bad2.load(Variables())


def test_custom_class_takes_the_value() -> None:
    class Port:
        def __init__(self, value: Any) -> None:
            self.n = int(value)

    class C(Settings, prefix='T'):
        port: Port = Port(1)

    assert C.load(_vars(T_PORT='80')).port.n == 80
    with pytest.raises(SettingsError, match='cannot make a Port: ValueError'):
        C.load(_vars(T_PORT='eighty'))

    class HostPort:
        def __init__(self, value: str) -> None:
            if ':' not in value:
                raise InvalidValue('expected host:port')
            self.host, port = value.rsplit(':', 1)

    class D(Settings, prefix='T'):
        addr: HostPort = HostPort('localhost:80')

    with pytest.raises(SettingsError, match=r"T_ADDR \(addr\): invalid value 'nowhere' from a local value: "
                                            r'expected host:port \(expected HostPort\)'):
        D.load(_vars(T_ADDR='nowhere'))
    assert issubclass(InvalidValue, ValueError) and issubclass(InvalidValue, SAFError)


# ----------------------------------------------------------------------------------------------------------------------
# variables: names, registration, precedence


def test_registers_default_and_type_function_with_variables() -> None:
    v = Variables()
    DbSettings.load(_set(v, DB_PASSWORD='pw'))
    assert v.get('DB_PORT') == 5432
    v.set('DB_PORT', '6000')
    assert v.get('DB_PORT') == 6000  # the registered type function converts every later read
    assert {'DB_HOST', 'DB_PORT', 'DB_PASSWORD', 'DB_REPLICAS'} <= set(v.keys())
    assert v.get('DB_REPLICAS') == []


def _set(v: Variables, **values: Any) -> Variables:
    v.update(values)
    return v


def test_environment_beats_local_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    v = _vars(DB_PASSWORD='pw')
    assert DbSettings.load(v).host == 'localhost'
    v.set('DB_HOST', 'local-host')
    assert DbSettings.load(v).host == 'local-host'
    monkeypatch.setenv('DB_HOST', 'env-host')
    assert DbSettings.load(v).host == 'env-host'
    v2 = Variables(sources=[{'DB_HOST': 'src-host', 'DB_PASSWORD': 'pw'}], env_placement=EnvPlacement.IGNORED)
    assert DbSettings.load(v2).host == 'src-host'
    v2.set('DB_HOST', 'local2')
    assert DbSettings.load(v2).host == 'local2'


def test_default_variables_when_none(monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.core import defaults

    v = Variables()
    monkeypatch.setattr(defaults, 'current', v)
    monkeypatch.setenv('DB_PASSWORD', 'pw')
    db = DbSettings.load()
    assert db.variables is v and bind_settings(DbSettings).variables is v


def test_bind_settings_is_load() -> None:
    v = _vars(DB_PASSWORD='pw')
    assert bind_settings(DbSettings, v) == DbSettings.load(v)
    with pytest.raises(TypeError, match='expected a Settings subclass'):
        bind_settings(dict, v)  # type: ignore[type-var]


def test_prefix_normalized_and_no_prefix() -> None:
    class Lower(Settings, prefix='t_'):
        a: int = 1

    class NoPrefix(Settings):
        t_b: int = 1

    assert Lower.describe()[0]['variable'] == 'T_A'
    assert Lower.load(_vars(T_A='5')).a == 5
    assert NoPrefix.load(_vars(T_B='6')).t_b == 6


# ----------------------------------------------------------------------------------------------------------------------
# groups


class Cache(Settings):
    url: str = 'redis://localhost'
    ttl: int = 60


class AppSettings(Settings, prefix='APP'):
    debug: bool = False
    db: DbSettings
    cache: Cache


def test_nested_groups_prefixes_join() -> None:
    v = _vars(APP_DEBUG='1', APP_DB_HOST='h', APP_DB_PASSWORD='pw', APP_CACHE_TTL='5')
    app = AppSettings.load(v)
    assert app.debug is True and app.db.host == 'h' and app.db.password.get() == 'pw' and app.cache.ttl == 5
    assert isinstance(app.db, DbSettings) and app.db.variables is v
    names = [row['variable'] for row in AppSettings.describe()]
    assert names == ['APP_DEBUG', 'APP_DB_HOST', 'APP_DB_PORT', 'APP_DB_PASSWORD', 'APP_DB_REPLICAS',
                     'APP_CACHE_URL', 'APP_CACHE_TTL']
    assert [row['field'] for row in AppSettings.describe()][1] == 'db.host'


def test_group_without_parent_prefix_uses_its_own() -> None:
    class Top(Settings):
        db: DbSettings
        cache: Cache

    top = Top.load(_vars(DB_PASSWORD='pw', CACHE_TTL='1'))
    assert top.db.password.get() == 'pw' and top.cache.ttl == 1


def test_same_group_twice_with_field_prefix() -> None:
    class Two(Settings, prefix='MYAPP'):
        primary: DbSettings = field(prefix='PRI')
        replica: DbSettings = field(prefix='REP')

    two = Two.load(_vars(MYAPP_PRI_PASSWORD='a', MYAPP_REP_PASSWORD='b', MYAPP_REP_PORT='1'))
    assert two.primary.password.get() == 'a' and two.replica.password.get() == 'b' and two.replica.port == 1
    assert two.primary.port == 5432


def test_group_declaration_errors() -> None:
    with pytest.raises(TypeError, match='takes no default'):
        class G1(Settings):
            db: DbSettings = DbSettings(password='x')

        G1.describe()
    with pytest.raises(TypeError, match='cannot be Optional'):
        class G2(Settings):
            db: Optional[DbSettings] = None

        G2.describe()


def test_inheritance_keeps_prefix_and_fields() -> None:
    class Base(Settings, prefix='T', unknown='fail'):
        a: int = 1

    class Child(Base):
        b: str = 'x'

    c = Child.load(_vars(T_A='2', T_B='y'))
    assert (c.a, c.b) == (2, 'y')
    with pytest.raises(SettingsError, match='T_C'):
        Child.load(_vars(T_C='1'))  # unknown='fail' is inherited


# ----------------------------------------------------------------------------------------------------------------------
# secrets


class Svc(Settings, prefix='SVC'):
    conn: Secret[str]  # 'SVC_CONN' does not look secret by its name: only the Secret type marks it
    pin_code: Optional[Secret[int]] = None
    name: str = 'svc'


def test_secret_wrapper() -> None:
    s = Secret(SECRET_VALUE)
    assert repr(s) == "Secret('****')" and str(s) == MASK and f'{s}' == MASK and s.get() == SECRET_VALUE
    assert s == Secret(SECRET_VALUE) and s != Secret('other') and hash(s) == hash(Secret(SECRET_VALUE))
    assert bool(s) and not Secret('')
    assert SECRET_VALUE not in repr([s, {'k': s}])


def test_secret_field_marked_and_masked_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    assert not is_secret_key('SVC_CONN')
    v = _vars(SVC_CONN=SECRET_VALUE, SVC_PIN_CODE='1234')
    svc = Svc.load(v)
    assert is_secret_key('SVC_CONN') and is_secret_key('SVC_PIN_CODE')
    assert svc.conn.get() == SECRET_VALUE and svc.pin_code is not None and svc.pin_code.get() == 1234
    assert v.get('SVC_CONN') == SECRET_VALUE  # the variable holds the plain value; the object wraps it
    outputs = [repr(svc), str(svc), json.dumps(svc.to_dict(), default=str), repr(Svc.describe()), repr(svc.conn)]
    from scitrera_app_framework.core.core import log_framework_variables

    logger = logging.getLogger('test-settings-secrets')
    with caplog.at_level(logging.INFO, logger='test-settings-secrets'):
        logger.info('settings: %s %s', svc, svc.conn)
        log_framework_variables(v, logger=logger)
    outputs.append(caplog.text)
    for out in outputs:
        assert SECRET_VALUE not in out and '1234' not in out, out
    assert "conn=Secret('****')" in repr(svc)
    assert svc.to_dict() == {'conn': MASK, 'pin_code': MASK, 'name': 'svc'}
    assert svc.to_dict(mask=False) == {'conn': SECRET_VALUE, 'pin_code': 1234, 'name': 'svc'}
    row = Svc.describe()[0]
    assert row['secret'] is True and row['required'] is True and row['type'] == 'Secret[str]'


def test_secret_never_in_errors() -> None:
    class Bad(Settings, prefix='SVC'):
        conn: Secret[int]
        other_secret: Secret[str] = Secret(SECRET_VALUE)

    with pytest.raises(SettingsError) as ei:
        Bad.load(_vars(SVC_CONN=SECRET_VALUE))
    text = str(ei.value) + repr(ei.value.errors) + repr(ei.value.__cause__) + repr(ei.value.__context__)
    assert SECRET_VALUE not in text and 'SVC_CONN' in text and MASK in text
    (problem,) = ei.value.errors
    assert problem.value == MASK and problem.expected == 'Secret[int]'
    assert Bad.describe()[1]['default'] == MASK
    assert SECRET_VALUE not in repr(pickle.loads(pickle.dumps(ei.value)))
    with pytest.raises(SettingsError) as ei2:
        Bad(conn=SECRET_VALUE)
    assert SECRET_VALUE not in str(ei2.value) + repr(ei2.value.errors)


def test_secret_looking_name_masked_without_secret_type() -> None:
    class Tok(Settings, prefix='SVC'):
        api_token: str = ''
        url: str = 'http://localhost'

    t = Tok.load(_vars(SVC_API_TOKEN=SECRET_VALUE, SVC_URL=f'https://user:{SECRET_VALUE}@host/db'))
    assert SECRET_VALUE not in repr(t) + repr(t.to_dict())
    assert t.api_token == SECRET_VALUE and SECRET_VALUE in t.url


def test_secret_default_accepts_plain_or_secret() -> None:
    class D(Settings, prefix='SVC'):
        a: Secret[str] = 'plain'
        b: Secret[str] = Secret('wrapped')

    d = D.load(Variables())
    assert d.a.get() == 'plain' and d.b.get() == 'wrapped'


# ----------------------------------------------------------------------------------------------------------------------
# one error for everything


def test_all_problems_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    class Strict(Settings, prefix='APP', unknown='fail'):
        port: int = 80
        ratio: float = 0.5
        name: str
        db: DbSettings

    monkeypatch.setenv('APP_PORT', 'eighty')
    monkeypatch.setenv('APP_PROT', 'typo')
    v = _vars(APP_RATIO='half', APP_DB_PORT='x' * 10_000)
    with pytest.raises(SettingsError) as ei:
        Strict.load(v)
    err = ei.value
    assert isinstance(err, ConfigurationError) and isinstance(err, ValueError) and isinstance(err, SAFError)
    kinds = {(p.variable, p.kind) for p in err.errors}
    assert kinds == {('APP_PORT', 'invalid'), ('APP_RATIO', 'invalid'), ('APP_NAME', 'missing'),
                     ('APP_DB_PASSWORD', 'missing'), ('APP_DB_PORT', 'invalid'), ('APP_PROT', 'unknown')}
    lines = str(err).splitlines()
    assert lines[0] == 'Strict: 6 configuration problems:' and len(lines) == 7
    by_var = {p.variable: p for p in err.errors}
    port = by_var['APP_PORT']
    assert port.source == 'environment' and port.value == "'eighty'" and port.expected == 'int'
    assert port.field == 'port'
    line = next(ln for ln in lines if ln.strip().startswith('APP_PORT'))
    assert "invalid value 'eighty' from the environment" in line and 'expected int' in line
    assert by_var['APP_DB_PASSWORD'].field == 'db.password'
    assert 'did you mean APP_PORT?' in str(err)
    long_line = next(ln for ln in lines if 'APP_DB_PORT' in ln)
    assert len(long_line) < 400 and '(10,000 characters)' in long_line  # bounded to 200 characters
    assert isinstance(err.errors[0], SettingsProblem)


def test_required_empty_string_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('DB_PASSWORD', '')
    with pytest.raises(SettingsError) as ei:
        DbSettings.load(Variables())
    (problem,) = ei.value.errors
    assert (problem.variable, problem.kind) == ('DB_PASSWORD', 'missing') and 'required but empty' in str(ei.value)
    with pytest.raises(SettingsError, match='required but empty'):
        DbSettings(password='')
    assert Kinds.load(_vars(KIND_S='')).s == ''  # a field with a default may be empty


def test_error_pickles_and_names_the_class() -> None:
    with pytest.raises(SettingsError) as ei:
        DbSettings.load(Variables())
    err2 = pickle.loads(pickle.dumps(ei.value))
    assert str(err2) == str(ei.value) and err2.errors == ei.value.errors and err2.settings == 'DbSettings'
    assert str(ei.value).startswith('DbSettings: 1 configuration problem:')


def test_default_that_does_not_convert_is_reported_as_from_the_default() -> None:
    class BadDefault(Settings, prefix='T'):
        n: int = 'many'  # type: ignore[assignment]

    with pytest.raises(SettingsError, match='from the default'):
        BadDefault.load(Variables())


# ----------------------------------------------------------------------------------------------------------------------
# unknown keys


class Warned(Settings, prefix='DB'):
    host: str = 'h'
    port: int = 1


def test_unknown_warns_once_with_suggestion(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv('DB_HOTS', 'x')
    v = _vars(db_port='2', DB_SOMETHING_ELSE='y')
    with caplog.at_level(logging.WARNING, logger='saf.config'):
        w = Warned.load(v)
        w.reload()
        Warned.load(v)
    records = [r for r in caplog.records if r.name == 'saf.config']
    assert len(records) == 1, caplog.text
    msg = records[0].getMessage()
    assert 'Warned: 3 unknown variables' in msg
    assert 'DB_HOTS (did you mean DB_HOST?)' in msg
    assert 'db_port (names are upper case: did you mean DB_PORT?)' in msg
    assert 'DB_SOMETHING_ELSE' in msg and "unknown='ignore'" in msg
    assert w.port == 1  # a lower-case local key is not read


def test_unknown_warned_once_per_app_and_forgotten_with_it(monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """What was warned about belongs to one app (its Variables): another app warns on its own, a reset default
    Variables warns again, and a dropped Variables is not kept alive by the settings machinery."""
    import gc
    import weakref

    from scitrera_app_framework.core.defaults import get_variables
    from scitrera_app_framework.testing import reset_framework

    monkeypatch.setenv('DB_HOTS', 'x')

    def warnings() -> int:
        return sum(1 for r in caplog.records if r.name == 'saf.config' and 'DB_HOTS' in r.getMessage())

    reset_framework()
    try:
        with caplog.at_level(logging.WARNING, logger='saf.config'):
            one, two = Variables(), Variables()
            Warned.load(one)
            Warned.load(one)
            Warned.load(two)
            assert warnings() == 2
            Warned.load()  # the default Variables: a third app
            Warned.load()
            assert warnings() == 3
            reset_framework()
            Warned.load(get_variables())  # a new default Variables: warned again
            assert warnings() == 4
        ref = weakref.ref(one)
        del one
        gc.collect()
        assert ref() is None
    finally:
        reset_framework()


def test_unknown_fail_and_ignore(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    class Fail(Settings, prefix='DB', unknown='fail'):
        host: str = 'h'

    class Ignore(Settings, prefix='DB', unknown='ignore'):
        host: str = 'h'

    monkeypatch.setenv('DB_HOTS', 'x')
    with pytest.raises(SettingsError) as ei:
        Fail.load(Variables())
    assert [(p.variable, p.kind) for p in ei.value.errors] == [('DB_HOTS', 'unknown')]
    assert 'DB_HOTS: unknown variable: no field of' in str(ei.value) and 'did you mean DB_HOST?' in str(ei.value)
    with caplog.at_level(logging.WARNING, logger='saf.config'):
        assert Ignore.load(Variables()).host == 'h'
    assert 'DB_HOTS' not in caplog.text
    with pytest.raises(ValueError, match="unknown='loud'"):
        class Loud(Settings, prefix='DB', unknown='loud'):
            pass


def test_unknown_ignores_declared_keys_and_other_placements(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fail(Settings, prefix='DB', unknown='fail'):
        host: str = 'h'

    v = Variables()
    v.environ('DB_POOL', default=5, type_fn=int)  # declared by other code: not a typo
    assert Fail.load(v).host == 'h'
    monkeypatch.setenv('DB_HOTS', 'x')
    assert Fail.load(Variables(env_placement=EnvPlacement.IGNORED)).host == 'h'  # the environment is not read


def test_unknown_most_specific_group_policy_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    class Inner(Settings, unknown='ignore'):
        a: int = 1

    class Outer(Settings, prefix='APP', unknown='fail'):
        inner: Inner

    monkeypatch.setenv('APP_INNER_B', '1')
    assert Outer.load(Variables()).inner.a == 1
    monkeypatch.setenv('APP_OTHER', '1')
    with pytest.raises(SettingsError, match='APP_OTHER'):
        Outer.load(Variables())


def test_unknown_names_a_changed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    class Fail(Settings, prefix='DB', unknown='fail'):
        host: str = 'h'

    v = Variables()
    Fail.load(v)
    monkeypatch.setenv('DB_HOTS', 'x')  # the scan is cached against the set of names: a new name is seen
    with pytest.raises(SettingsError, match='DB_HOTS'):
        Fail.load(v)
    monkeypatch.delenv('DB_HOTS')
    Fail.load(v)


# ----------------------------------------------------------------------------------------------------------------------
# reload, snapshots


def test_reload_good_updates_in_place(monkeypatch: pytest.MonkeyPatch) -> None:
    v = _vars(APP_DB_PASSWORD='pw')
    app = AppSettings.load(v)
    db = app.db
    monkeypatch.setenv('APP_DB_PORT', '7000')
    assert app.db.port == 5432  # a snapshot: not re-read on access
    assert app.reload() is app
    assert app.db is db and db.port == 7000
    v.set('APP_DEBUG', 'yes')
    assert db.reload() is db and app.debug is False  # a group reloads its own fields
    app.reload()
    assert app.debug is True


def test_reload_bad_keeps_old_values(monkeypatch: pytest.MonkeyPatch) -> None:
    v = _vars(DB_PASSWORD='pw', DB_PORT='1')
    db = DbSettings.load(v)
    v.set('DB_PORT', 'nope')
    v.pop('DB_PASSWORD')
    with pytest.raises(SettingsError) as ei:
        db.reload()
    assert {p.variable for p in ei.value.errors} == {'DB_PORT', 'DB_PASSWORD'}
    assert db.port == 1 and db.password.get() == 'pw'
    v.set('DB_PORT', '2')
    v.set('DB_PASSWORD', 'pw2')
    assert db.reload().port == 2 and db.password.get() == 'pw2'


def test_reload_after_variables_reload_callback(tmp_path: Path) -> None:
    class Src:
        def __init__(self) -> None:
            self.data = {'DB_PASSWORD': 'a', 'DB_PORT': '1'}

        def get(self, key: str, default: Any = None) -> Any:
            return self.data.get(key, default)

        def keys(self) -> list[str]:
            return list(self.data)

    src = Src()
    v = Variables(sources=[src])
    db = DbSettings.load(v)
    src.data['DB_PORT'] = '2'
    assert db.port == 1
    db.reload()
    assert db.port == 2


def test_unbound_object_cannot_reload() -> None:
    db = DbSettings(password='p')
    assert db.variables is None
    with pytest.raises(SettingsError, match='built from values, not loaded'):
        db.reload()


def test_read_only() -> None:
    db = DbSettings(password='p')
    with pytest.raises(AttributeError, match='read-only'):
        db.port = 1  # type: ignore[misc]
    with pytest.raises(AttributeError, match='read-only'):
        del db.port


# ----------------------------------------------------------------------------------------------------------------------
# objects: constructor, repr, equality, to_dict, describe, copies


def test_constructor_converts_and_reports() -> None:
    db = DbSettings(password='p', port='1', replicas='a,b')
    assert db.port == 1 and db.replicas == ['a', 'b'] and db.password == Secret('p') and db.host == 'localhost'
    with pytest.raises(SettingsError) as ei:
        DbSettings(port='x')
    assert {(p.variable, p.kind) for p in ei.value.errors} == {('DB_PORT', 'invalid'), ('DB_PASSWORD', 'missing')}
    assert ei.value.errors[0].source in ('argument', None)
    with pytest.raises(TypeError, match='unexpected keyword'):
        DbSettings(password='p', nope=1)
    app = AppSettings(db={'password': 'x'}, cache=Cache(ttl=1))
    assert app.db.password.get() == 'x' and app.cache.ttl == 1


def test_repr_and_equality() -> None:
    db = DbSettings.load(_vars(DB_HOST='db', DB_PASSWORD='pw'))
    assert repr(db) == "DbSettings(host='db', port=5432, password=Secret('****'), replicas=[])"
    assert db == DbSettings(host='db', password='pw') and db != DbSettings(host='other', password='pw')
    assert db != 'DbSettings' and (db == object()) is False
    with pytest.raises(TypeError):
        hash(db)
    app = AppSettings(db={'password': 'x'})
    assert repr(app).startswith("AppSettings(debug=False, db=DbSettings(host='localhost'")


def test_to_dict_nested() -> None:
    app = AppSettings.load(_vars(APP_DB_PASSWORD='pw'))
    d = app.to_dict()
    assert d['db'] == {'host': 'localhost', 'port': 5432, 'password': MASK, 'replicas': []}
    assert d['cache'] == {'url': 'redis://localhost', 'ttl': 60} and d['debug'] is False
    assert app.to_dict(mask=False)['db']['password'] == 'pw'


def test_describe_rows() -> None:
    rows = {r['field']: r for r in Kinds.describe()}
    assert rows['help_field']['help'] == 'the help text' and rows['with_field']['help'] == 'from field()'
    assert rows['li'] == {'field': 'li', 'variable': 'KIND_LI', 'type': 'list[int]', 'default': [],
                          'secret': False, 'required': False, 'help': None}
    assert rows['opt_i']['type'] == 'Optional[int]' and rows['opt_i']['required'] is False
    assert rows['custom_env']['variable'] == 'SOME_OTHER_NAME_T'
    assert rows['factory']['default'] == ['f']
    assert rows['mode']['type'] == "Literal['fast', 'slow']"
    db = {r['field']: r for r in DbSettings.describe()}
    assert db['password']['required'] is True and db['password']['default'] is None


def test_copy_and_pickle() -> None:
    v = _vars(DB_PASSWORD='pw', DB_REPLICAS='a')
    db = DbSettings.load(v)
    c = copy.copy(db)
    d = copy.deepcopy(db)
    assert c == db == d and c.variables is v and d.variables is v
    assert d.replicas is not db.replicas
    unbound = DbSettings(password='p')
    assert pickle.loads(pickle.dumps(unbound)) == unbound


def test_mutable_defaults_not_shared() -> None:
    a = DbSettings.load(_vars(DB_PASSWORD='p'))
    b = DbSettings.load(_vars(DB_PASSWORD='p'))
    assert a.replicas == [] and a.replicas is not b.replicas
    a.replicas.append('x')
    assert b.replicas == [] and DbSettings.load(_vars(DB_PASSWORD='p')).replicas == []
    c, d = DbSettings(password='p'), DbSettings(password='p')
    assert c.replicas is not d.replicas
    k1, k2 = Kinds.load(Variables()), Kinds.load(Variables())
    assert k1.d is not k2.d and k1.st is not k2.st and k1.factory is not k2.factory

    class AnyDefault(Settings, prefix='T'):
        blob: Any = {'k': []}

    x, y = AnyDefault.load(Variables()), AnyDefault.load(Variables())
    assert x.blob == {'k': []} and x.blob is not y.blob and x.blob['k'] is not y.blob['k']


def test_class_attributes_are_not_left_behind() -> None:
    assert 'host' not in DbSettings.__dict__ and not hasattr(DbSettings, 'port')
    db = DbSettings(password='p')
    assert 'port' in vars(db)  # a plain instance attribute: no descriptor on the read path


def test_reserved_field_names() -> None:
    class Bad(Settings):
        reload: int = 1

    with pytest.raises(TypeError, match="'reload' is a Settings method"):
        Bad.describe()


def test_field_helper() -> None:
    assert isinstance(field(1), FieldInfo) and repr(field(1, help='h')) == "field(default=1, help='h')"
    with pytest.raises(TypeError, match='not both'):
        field(1, default_factory=list)
    with pytest.raises(TypeError, match='prefix= is for settings groups'):
        class P(Settings):
            a: int = field(1, prefix='X')

        P.describe()


def test_settings_base_itself_is_not_loadable() -> None:
    with pytest.raises(TypeError, match='not a settings class'):
        Settings.load(Variables())


class Early(Settings, prefix='T'):
    late: LateGroup  # defined below: resolved at first use


class LateGroup(Settings):
    b: int = 2


def test_module_level_forward_reference_resolves() -> None:
    assert Early.load(_vars(T_LATE_B='3')).late.b == 3


def test_local_group_resolves_through_a_subclass_hook() -> None:
    class Local(Settings):
        a: int = 1

    class Base(Settings):
        def __init_subclass__(cls, **kwargs: Any) -> None:
            super().__init_subclass__(**kwargs)

    class C(Base, prefix='T'):
        local: Local  # a string annotation naming a class local to this function

    assert C.load(_vars(T_LOCAL_A='4')).local.a == 4


def test_forward_reference_defined_later_in_a_function_is_a_clear_error() -> None:
    class Inner(Settings):
        a: int = 1

    class Outer(Settings, prefix='T'):
        inner: Inner
        later: Later  # noqa: F821 - defined below; resolved at first use

    class Later(Settings):
        b: int = 2

    with pytest.raises(TypeError, match='cannot resolve'):
        Outer.load(Variables())  # 'Later' was not defined when Outer was created: a clear error, not a crash


# ----------------------------------------------------------------------------------------------------------------------
# Python 3.9: string annotations (this file uses ``from __future__ import annotations``) in another interpreter


_PY39_SCRIPT = '''
from __future__ import annotations
import os
from typing import Optional
from scitrera_app_framework import Variables
from scitrera_app_framework.settings import Secret, Settings

class Db(Settings, prefix='T'):
    hosts: list[str] = []
    opts: dict[str, int] = {}
    port: Optional[int] = None
    pw: Secret[str]
    pair: tuple[int, ...] = ()

class App(Settings):
    db: Db

v = Variables()
v.update({'T_HOSTS': 'a,b', 'T_OPTS': '{"x": 1}', 'T_PORT': '5', 'T_PW': 'p', 'T_PAIR': [1, 2]})
a = App(db={'pw': 'q'})
s = Db.load(v)
assert (s.hosts, s.opts, s.port, s.pw.get(), s.pair) == (['a', 'b'], {'x': 1}, 5, 'p', (1, 2)), s
print('OK', repr(s))
'''


def _python39() -> Optional[str]:
    import glob
    import shutil

    for cand in sorted(glob.glob(os.path.expanduser('~/.pyenv/versions/3.9*/bin/python3.9'))) + [
            shutil.which('python3.9') or '']:
        if cand and os.path.exists(cand):
            return cand
    return None


def test_string_annotations_on_this_interpreter() -> None:
    ns: dict[str, Any] = {'__name__': 'settings_py39_check'}
    exec(compile(_PY39_SCRIPT, '<py39>', 'exec'), ns)


def test_string_annotations_on_python39(tmp_path: Path) -> None:
    py = _python39()
    if py is None:
        pytest.skip('no second python >= 3.9 found')
    script = tmp_path / 'check.py'
    script.write_text(_PY39_SCRIPT)
    env = {k: val for k, val in os.environ.items() if not k.startswith(('T_', 'SAF_'))}
    env['PYTHONPATH'] = str(ROOT)
    proc = subprocess.run([py, '-I', '-c', f'import sys; sys.path.insert(0, {str(ROOT)!r}); '
                                           f'exec(open({str(script)!r}).read())'],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    if proc.returncode != 0 and "No module named 'pythonjsonlogger'" in proc.stderr:
        pytest.skip('no second python >= 3.9 found (with the package dependencies)')
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('OK Db(')


# ----------------------------------------------------------------------------------------------------------------------
# the bench workload runs (the figures themselves are measured by bench/run.py, never here)


def test_bench_settings_workload_runs(tmp_path: Path) -> None:
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'BENCH', 'LOGGING_'))}
    proc = subprocess.run([sys.executable, str(ROOT / 'bench' / 'workloads.py'), 'settings', '--n', '20'],
                          capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result['available'], result['note']
    metrics = result['metrics']
    assert metrics['fields'] == 20
    for key in ('attr_ns', 'floor_attr_ns', 'load_us', 'environ20_us'):
        assert metrics[key] > 0, (key, metrics)


def test_example_never_prints_its_secrets(tmp_path: Path) -> None:
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_', 'SHOP_'))}
    proc = subprocess.run([sys.executable, str(ROOT / 'examples' / 'settings_example.py')], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert 'example-only-password' not in out and 'another-example-password' not in out
    assert "password=Secret('****')" in out


def test_a_missing_field_names_every_place_it_looked(tmp_path: Path) -> None:
    """Like RequiredVariableError: the command line (with its real option), the environment, each source."""
    from scitrera_app_framework.core.util import add_file_source

    class Tool(Settings, prefix='WT_PLACES'):
        token: str

    (tmp_path / 'app.yaml').write_text('other: 1\n')
    v = Variables()
    add_file_source(tmp_path / 'app.yaml', v)
    v.add_cli_source([], flags={'WT_PLACES_TOKEN': '--token'})
    with pytest.raises(SettingsError) as ei:
        Tool.load(v)
    text = str(ei.value)
    assert 'WT_PLACES_TOKEN (token): missing: required and has no default; set it in one of: the command line ' \
           '(--token); the environment variable WT_PLACES_TOKEN; a local value' in text
    assert f'FileSource {tmp_path / "app.yaml"}' in text
    with pytest.raises(SettingsError, match=r'missing: required; pass token=\.\.\.'):
        Tool(token=None)
