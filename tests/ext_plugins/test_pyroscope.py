"""PyroscopePlugin: enabling, tags, mapping onto the installed client's ``configure``, errors, masking, shutdown,
the missing-package path (subprocess), and a real end-to-end upload to a local HTTP server (subprocess).

In-process tests never start the real agent: ``pyroscope.configure``/``shutdown`` are replaced by recorders.
"""

from __future__ import annotations

import gzip
import inspect
import logging
import os
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import parse_qs, urlsplit

import pytest

from scitrera_app_framework import Variables, get_extension, init_framework
from scitrera_app_framework.core.plugins import PluginInitError, describe_plugins
from scitrera_app_framework.ext_plugins.pyroscope_plugin import (
    DEFAULT_SERVER,
    EXT_PYROSCOPE,
    PYROSCOPE_ENABLED,
    PyroscopeConfig,
    PyroscopePlugin,
    get_pyroscope_tags,
    map_configure_kwargs,
    read_pyroscope_settings,
)
from scitrera_app_framework.testing import reset_framework

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / 'examples' / 'pyroscope_example.py'
_ENV_PREFIXES = ('SAF_', 'LOGGING_', 'STATEFUL_', 'RUN_', 'BUILD_', 'PYROSCOPE_', 'DATA_')
_ENV_KEYS = ('APP_NAME', 'REGION', 'TIER')
SECRET = 's3cr3t-t0ken-value'


def _clean_env(base: Optional[dict[str, str]] = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    for k in list(env):
        if k.startswith(_ENV_PREFIXES) or k in _ENV_KEYS:
            del env[k]
    return env


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for k in list(os.environ):
        if k.startswith(_ENV_PREFIXES) or k in _ENV_KEYS:
            monkeypatch.delenv(k)
    monkeypatch.setenv('SAF_INSTALL_SHUTDOWN_HOOKS', 'false')
    monkeypatch.setenv('SAF_ENABLE_PYTHON_FAULT_HANDLER', 'false')
    monkeypatch.chdir(tmp_path)
    reset_framework()
    try:
        yield
    finally:
        reset_framework()


@dataclass
class FakeClient:
    calls: list
    shutdowns: list


@pytest.fixture
def fake_client(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    """Replace ``pyroscope.configure``/``shutdown`` by recorders that keep the real ``configure`` signature."""
    pyroscope = pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')
    rec = FakeClient([], [])

    def configure(**kwargs: Any) -> bool:
        rec.calls.append(kwargs)
        return True

    configure.__signature__ = inspect.signature(pyroscope.configure)  # type: ignore[attr-defined]
    monkeypatch.setattr(pyroscope, 'configure', configure)

    def shutdown() -> bool:
        rec.shutdowns.append(True)
        return True

    monkeypatch.setattr(pyroscope, 'shutdown', shutdown)
    return rec


def _init(**kwargs: Any) -> Variables:
    kwargs.setdefault('stateful', False)
    kwargs.setdefault('shutdown_hooks', False)
    return init_framework(kwargs.pop('name', 'pyro-app'), v=Variables(), **kwargs)


# --- enabling ----------------------------------------------------------------------------------------------
def test_disabled_by_default_registers_nothing(fresh: None) -> None:
    v = _init(region='eu')
    assert all(p['extension_point'] != EXT_PYROSCOPE for p in describe_plugins(v))
    with pytest.raises(ValueError, match='pyroscope'):
        get_extension(EXT_PYROSCOPE, v)


def test_is_enabled_reads_the_variable(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    plugin, v = PyroscopePlugin(), Variables()
    assert PyroscopePlugin.eager is True
    assert PYROSCOPE_ENABLED == 'PYROSCOPE_ENABLED' and EXT_PYROSCOPE == 'pyroscope'
    assert plugin.extension_point_name(v) == 'pyroscope'
    assert plugin.is_enabled(v) is False
    v.set(PYROSCOPE_ENABLED, 'on')
    assert plugin.is_enabled(v) is True
    monkeypatch.setenv(PYROSCOPE_ENABLED, 'no')
    assert plugin.is_enabled(v) is False
    monkeypatch.setenv(PYROSCOPE_ENABLED, 'maybe')
    with pytest.raises(ValueError, match="PYROSCOPE_ENABLED.*'maybe'"):
        plugin.is_enabled(v)


def test_enabled_by_environment_variable(fresh: None, fake_client: FakeClient,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PYROSCOPE_ENABLED, 'true')
    v = _init()
    assert isinstance(get_extension(EXT_PYROSCOPE, v), PyroscopeConfig)
    assert len(fake_client.calls) == 1


# --- tags --------------------------------------------------------------------------------------------------
def test_tags_from_params_app_name_run_id_and_prefix(fresh: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('RUN_ID', 'r1')
    monkeypatch.setenv('PYROSCOPE_TAG_TEAM', 'core')
    monkeypatch.setenv('TIER', '7')  # an app parameter overridden by the environment
    v = _init(name='svc', region='eu', tier=3, worker=None)
    v.set('PYROSCOPE_TAG_Zone', 'z1')  # from the Variables' own keys
    v.set('PYROSCOPE_TAG_REPLICAS', 2)
    assert get_pyroscope_tags(v) == {'app_name': 'svc-eu-7', 'region': 'eu', 'replicas': '2', 'run_id': 'r1',
                                     'team': 'core', 'tier': '7', 'zone': 'z1'}


def test_tags_leave_out_unset_run_id(fresh: None) -> None:
    v = _init(name='svc', region='eu')
    tags = get_pyroscope_tags(v)
    assert tags == {'app_name': 'svc-eu', 'region': 'eu'}
    assert 'run_id' not in tags


def test_tag_names_are_made_label_safe(fresh: None) -> None:
    v = _init(name='svc')
    v.set('PYROSCOPE_TAG_git-sha', 'abc')
    assert get_pyroscope_tags(v)['git_sha'] == 'abc'


# --- mapping onto configure --------------------------------------------------------------------------------
def test_mapping_against_the_real_signature(fresh: None) -> None:
    pyroscope = pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')
    params = set(inspect.signature(pyroscope.configure).parameters)
    v = Variables()
    v.update({'PYROSCOPE_SERVER': 'http://p:4040', 'PYROSCOPE_USER': 'u', 'PYROSCOPE_TOKEN': SECRET,
              'PYROSCOPE_TENANT': 't', 'PYROSCOPE_SAMPLE_RATE': '50', 'PYROSCOPE_ON_CPU': 'false',
              'PYROSCOPE_GIL_ONLY': 'no', 'PYROSCOPE_ENABLE_LOGGING': 'yes', 'PYROSCOPE_DETECT_SUBPROCESSES': 'off'})
    settings = read_pyroscope_settings(v)
    kwargs, unsupported = map_configure_kwargs(pyroscope.configure, settings, 'app', {'a': 'b'})
    assert set(kwargs) <= params, 'only parameters the client accepts are passed'
    expected = {'application_name': 'app', 'tags': {'a': 'b'}, 'server_address': 'http://p:4040',
                'basic_auth_username': 'u', 'basic_auth_password': SECRET, 'tenant_id': 't', 'sample_rate': 50,
                'oncpu': False, 'gil_only': False, 'enable_logging': True, 'detect_subprocesses': False}
    assert kwargs == {k: val for k, val in expected.items() if k in params}
    assert unsupported == tuple(var for var, p in (('PYROSCOPE_DETECT_SUBPROCESSES', 'detect_subprocesses'),)
                                if p not in params)
    inspect.signature(pyroscope.configure).bind(**kwargs)  # the real call would accept them


def test_defaults(fresh: None) -> None:
    settings = read_pyroscope_settings(Variables())
    assert settings == {'PYROSCOPE_SERVER': DEFAULT_SERVER, 'PYROSCOPE_USER': '', 'PYROSCOPE_TOKEN': '',
                        'PYROSCOPE_TENANT': '', 'PYROSCOPE_SAMPLE_RATE': 100, 'PYROSCOPE_DETECT_SUBPROCESSES': True,
                        'PYROSCOPE_ON_CPU': True, 'PYROSCOPE_GIL_ONLY': True, 'PYROSCOPE_ENABLE_LOGGING': False}
    assert DEFAULT_SERVER == 'http://pyroscope.pyroscope.svc:4040'


def test_unsupported_parameters_are_dropped_with_a_debug_note(fresh: None, monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    pyroscope = pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')
    calls: list = []

    def configure(application_name: str, server_address: str = '', tags: Any = None, sample_rate: int = 100) -> bool:
        calls.append(dict(application_name=application_name, server_address=server_address, tags=tags,
                          sample_rate=sample_rate))
        return True

    monkeypatch.setattr(pyroscope, 'configure', configure)
    monkeypatch.setattr(pyroscope, 'shutdown', lambda: True)
    monkeypatch.setenv('PYROSCOPE_TOKEN', SECRET)
    monkeypatch.setenv('PYROSCOPE_SAMPLE_RATE', '25')
    caplog.set_level(logging.DEBUG)
    v = _init(pyroscope=True, log_level='DEBUG', region='eu')
    config = get_extension(EXT_PYROSCOPE, v)
    assert calls == [{'application_name': 'pyro-app-eu', 'server_address': DEFAULT_SERVER,
                      'tags': {'app_name': 'pyro-app-eu', 'region': 'eu'}, 'sample_rate': 25}]
    assert config.unsupported == ('PYROSCOPE_USER', 'PYROSCOPE_TOKEN', 'PYROSCOPE_TENANT',
                                  'PYROSCOPE_DETECT_SUBPROCESSES', 'PYROSCOPE_ON_CPU', 'PYROSCOPE_GIL_ONLY',
                                  'PYROSCOPE_ENABLE_LOGGING')
    notes = [r for r in caplog.records if 'installed pyroscope client has no' in r.getMessage()]
    assert {r.levelno for r in notes} == {logging.DEBUG}
    assert len(notes) == 7
    assert any('PYROSCOPE_TOKEN' in r.getMessage() and '****' in r.getMessage() for r in notes)
    assert SECRET not in caplog.text


def test_configure_with_var_keyword_gets_everything(fresh: None) -> None:
    def configure(**kwargs: Any) -> None:
        return None

    kwargs, unsupported = map_configure_kwargs(configure, read_pyroscope_settings(Variables()), 'a', {})
    assert unsupported == ()
    assert kwargs['detect_subprocesses'] is True and kwargs['application_name'] == 'a'


def test_old_client_with_app_name_and_auth_token(fresh: None) -> None:
    def configure(app_name: str, server_address: str, auth_token: str = '', detect_subprocesses: bool = False,
                  tags: Any = None) -> None:
        return None

    v = Variables()
    v.set('PYROSCOPE_TOKEN', SECRET)
    kwargs, unsupported = map_configure_kwargs(configure, read_pyroscope_settings(v), 'a', {})
    assert kwargs == {'app_name': 'a', 'tags': {}, 'server_address': DEFAULT_SERVER, 'auth_token': SECRET,
                      'detect_subprocesses': True}
    assert 'PYROSCOPE_TOKEN' not in unsupported and 'PYROSCOPE_SAMPLE_RATE' in unsupported


def test_configure_without_any_name_parameter_is_a_clear_error(fresh: None) -> None:
    def configure(server_address: str) -> None:
        return None

    with pytest.raises(TypeError, match='application_name nor app_name'):
        map_configure_kwargs(configure, read_pyroscope_settings(Variables()), 'a', {})


# --- bad input ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('variable,value', [
    ('PYROSCOPE_SAMPLE_RATE', 'fast'), ('PYROSCOPE_SAMPLE_RATE', '0'), ('PYROSCOPE_SAMPLE_RATE', '-3'),
    ('PYROSCOPE_ON_CPU', 'sometimes'), ('PYROSCOPE_SERVER', 'pyroscope:4040'),
])
def test_bad_values_name_variable_and_value(fresh: None, monkeypatch: pytest.MonkeyPatch, variable: str,
                                            value: str) -> None:
    monkeypatch.setenv(variable, value)
    v = Variables()
    v.set('APP_NAME', 'x')
    with pytest.raises(ValueError) as info:
        PyroscopePlugin().initialize(v, logging.getLogger('t'))
    assert variable in str(info.value) and repr(value) in str(info.value)


def test_sample_rate_fast_through_init_framework(fresh: None, fake_client: FakeClient,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('PYROSCOPE_SAMPLE_RATE', 'fast')
    with pytest.raises(PluginInitError, match="PYROSCOPE_SAMPLE_RATE.*'fast'") as info:
        _init(pyroscope=True)
    assert isinstance(info.value.__cause__, ValueError)
    assert fake_client.calls == []


def test_missing_app_name_is_a_clear_error(fresh: None) -> None:
    with pytest.raises(ValueError, match='APP_NAME'):
        PyroscopePlugin().initialize(Variables(), logging.getLogger('t'))


# --- masking, result, failures, shutdown -------------------------------------------------------------------
def test_token_masked_in_description_and_log(fresh: None, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv('PYROSCOPE_TOKEN', SECRET)
    monkeypatch.setenv('PYROSCOPE_USER', 'bob')
    monkeypatch.setenv('PYROSCOPE_SERVER', 'http://bob:pw-in-url@127.0.0.1:9/')
    caplog.set_level(logging.DEBUG)
    v = _init(pyroscope=True, log_level='DEBUG')
    config = get_extension(EXT_PYROSCOPE, v)
    assert fake_client.calls[0]['basic_auth_password'] == SECRET  # the client gets the real token
    assert fake_client.calls[0]['server_address'] == 'http://bob:pw-in-url@127.0.0.1:9'
    assert config.options['basic_auth_password'] == '****'
    assert config.options['basic_auth_username'] == 'bob'
    assert config.server_address == 'http://bob:****@127.0.0.1:9'
    assert SECRET not in caplog.text
    mine = '\n'.join(r.getMessage() for r in caplog.records if r.name.endswith('.pyroscope'))
    assert mine
    for text in (repr(config), repr(config.as_dict()), mine):
        assert SECRET not in text and 'pw-in-url' not in text
    assert any('pyroscope profiling on' in r.getMessage() for r in caplog.records)


def test_result_describes_the_active_config(fresh: None, fake_client: FakeClient) -> None:
    v = _init(pyroscope=True, region='eu')
    config = get_extension(EXT_PYROSCOPE, v)
    assert config.application_name == 'pyro-app-eu'
    assert config.server_address == DEFAULT_SERVER
    assert config.tags == {'app_name': 'pyro-app-eu', 'region': 'eu'}
    assert config.options['sample_rate'] == 100
    assert config.as_dict()['tags'] == dict(config.tags)
    reset_framework()
    assert fake_client.shutdowns == [True]


def test_failing_configure_keeps_the_app_running(fresh: None, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    pyroscope = pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')

    def configure(**kwargs: Any) -> bool:
        raise RuntimeError('agent exploded')

    configure.__signature__ = inspect.signature(pyroscope.configure)  # type: ignore[attr-defined]
    monkeypatch.setattr(pyroscope, 'configure', configure)
    shutdowns: list = []
    monkeypatch.setattr(pyroscope, 'shutdown', lambda: shutdowns.append(1))
    v = _init(pyroscope=True)
    assert get_extension(EXT_PYROSCOPE, v) is None
    assert 'agent exploded' in caplog.text
    reset_framework()
    assert shutdowns == []  # nothing was started, nothing to stop


def test_shutdown_is_bounded(fresh: None, fake_client: FakeClient, monkeypatch: pytest.MonkeyPatch,
                             caplog: pytest.LogCaptureFixture) -> None:
    pyroscope = sys.modules['pyroscope']
    release = threading.Event()
    monkeypatch.setattr(pyroscope, 'shutdown', lambda: release.wait(10))
    monkeypatch.setenv('PYROSCOPE_SHUTDOWN_TIMEOUT', '0.2')
    v = _init(pyroscope=True)
    config = get_extension(EXT_PYROSCOPE, v)
    t0 = time.monotonic()
    try:
        PyroscopePlugin().shutdown(v, logging.getLogger('t'), config)
        assert time.monotonic() - t0 < 3
        assert 'did not stop within PYROSCOPE_SHUTDOWN_TIMEOUT=0.2s' in caplog.text
    finally:
        release.set()


# --- subprocesses: missing package, example, real upload ---------------------------------------------------
def _run_child(code: str, env: dict[str, str], cwd: Path, timeout: float = 25) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], env=env, cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout)


def test_without_pyroscope_installed_one_warning_and_app_starts(tmp_path: Path) -> None:
    code = textwrap.dedent('''
        import sys
        sys.modules['pyroscope'] = None  # simulate: pyroscope-io not installed
        from scitrera_app_framework import init_framework, get_extension
        v = init_framework('no-pyro', pyroscope=True, stateful=False)
        assert get_extension('pyroscope', v) is None
        print('app started')
    ''')
    proc = _run_child(code, _clean_env(), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert 'app started' in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if 'WARNING' in line]
    assert len(warnings) == 1, proc.stderr
    assert "pip install 'scitrera-app-framework[pyroscope]'" in warnings[0]
    assert 'ERROR' not in proc.stderr and 'Traceback' not in proc.stderr


def test_example_runs_and_exits(tmp_path: Path) -> None:
    pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, str(EXAMPLE)], env=_clean_env(), cwd=str(tmp_path), capture_output=True,
                          text=True, timeout=25)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == 'pyroscope example done'
    assert 'pyroscope profiling on' in proc.stderr
    assert time.monotonic() - t0 < 20


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(('127.0.0.1', 0), _RecordingHandler)
        self.received: list[Received] = []
        self.answered: list[float] = []  # time.monotonic() after each answer was written
        self.answer_delay = 0.0
        self.lock = threading.Lock()


class _RecordingHandler(BaseHTTPRequestHandler):
    server: _Recorder
    timeout = 10

    def _record(self) -> None:
        size = int(self.headers.get('Content-Length') or 0)
        body = self.rfile.read(size) if size else b''
        parts = urlsplit(self.path)
        with self.server.lock:
            self.server.received.append(Received(self.command, parts.path, parse_qs(parts.query),
                                                 {k.lower(): val for k, val in self.headers.items()}, body))
        time.sleep(self.server.answer_delay)
        self.send_response(200)
        self.send_header('Content-Length', '0')
        self.end_headers()
        with self.server.lock:
            self.server.answered.append(time.monotonic())

    do_POST = do_PUT = do_GET = _record

    def log_message(self, format: str, *args: Any) -> None:
        return None


def _varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return result, i


def _fields(buf: bytes) -> Iterator[tuple[int, Any]]:
    """Minimal protobuf wire-format reader: yields ``(field number, int or bytes)``."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        wire = key & 7
        val: Any
        if wire == 0:
            val, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError(f'unsupported wire type {wire}')
        yield key >> 3, val


def _labels_of(req: Received) -> list[dict[str, str]]:
    """Return the label sets of one upload: legacy ``/ingest?name=app{k=v,...}`` or the push API
    (``/push.v1.PusherService/Push``: PushRequest.series[].labels[] = LabelPair{name, value}, gzip'd protobuf)."""
    if req.path.endswith('/ingest'):
        name = req.query.get('name', [''])[0]
        app, _, rest = name.partition('{')
        labels = dict(kv.split('=', 1) for kv in rest.rstrip('}').split(',') if '=' in kv)
        labels['service_name'] = app
        return [labels]
    body = req.body
    if req.headers.get('content-encoding') == 'gzip' or body[:2] == b'\x1f\x8b':
        body = gzip.decompress(body)
    out = []
    for num, series in _fields(body):
        if num != 1:
            continue
        labels = {}
        for lnum, pair in _fields(series):
            if lnum == 1:
                kv = dict(_fields(pair))
                labels[kv.get(1, b'').decode()] = kv.get(2, b'').decode()
        out.append(labels)
    return out


def test_real_upload_reaches_the_server_with_app_name_and_tags(tmp_path: Path) -> None:
    try:
        import pyroscope  # noqa: F401
    except ImportError as e:
        pytest.skip(f'pyroscope-io cannot be imported here (no wheel for this platform?): {e}')
    server = _Recorder()
    # the server answers each upload late: the app must not exit before the last profile was sent and answered
    # (pyroscope-io 1.0.x returns from shutdown() while it is still sending; CI lost the profile once that way)
    server.answer_delay = 0.5
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        env = _clean_env()
        env.update({'PYROSCOPE_SERVER': f'http://127.0.0.1:{port}', 'PYROSCOPE_TAG_TEAM': 'core', 'RUN_ID': 'r1'})
        code = textwrap.dedent('''
            import time
            from scitrera_app_framework import init_framework
            init_framework('pyro-test', pyroscope=True, stateful=False, region='eu')
            end = time.monotonic() + 2.5
            n = 0
            while time.monotonic() < end:
                n += sum(i * i for i in range(5000)) % 3
            print('burned', n)
        ''')
        t0 = time.monotonic()
        proc = _run_child(code, env, tmp_path, timeout=25)
        exited = time.monotonic()
        elapsed = exited - t0
        assert proc.returncode == 0, proc.stderr
        assert elapsed < 20, f'child took {elapsed:.1f}s: shutdown must not hang'
        with server.lock:
            received = list(server.received)
            answered = list(server.answered)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert received, f'no upload reached the server before the app exited; child stderr:\n{proc.stderr}'
    assert len(answered) == len(received) and max(answered) <= exited, \
        f'the app exited before its last upload was answered; child stderr:\n{proc.stderr}'
    ingest = [r for r in received if r.method == 'POST' and ('ingest' in r.path or 'Push' in r.path)]
    assert ingest, [(r.method, r.path) for r in received]
    series = [labels for r in ingest for labels in _labels_of(r)]
    assert series, 'upload carried no profile series'
    expected = {'service_name': 'pyro-test-eu', 'app_name': 'pyro-test-eu', 'region': 'eu', 'run_id': 'r1',
                'team': 'core'}
    assert any(expected.items() <= labels.items() for labels in series), series


def test_a_server_that_does_not_answer_delays_exit_only_by_the_shutdown_timeout(tmp_path: Path) -> None:
    pytest.importorskip('pyroscope', reason='pyroscope-io is not installed (no wheel for this platform?)')
    server = _Recorder()
    server.answer_delay = 6.0
    thread = threading.Thread(target=server.serve_forever, kwargs={'poll_interval': 0.1}, daemon=True)
    thread.start()
    try:
        env = _clean_env()
        env.update({'PYROSCOPE_SERVER': f'http://127.0.0.1:{server.server_address[1]}',
                    'PYROSCOPE_SHUTDOWN_TIMEOUT': '1'})
        code = textwrap.dedent('''
            import time
            from scitrera_app_framework import init_framework
            init_framework('pyro-slow', pyroscope=True, stateful=False)
            end = time.monotonic() + 1
            while time.monotonic() < end:
                sum(i * i for i in range(5000))
        ''')
        t0 = time.monotonic()
        proc = _run_child(code, env, tmp_path, timeout=25)
        elapsed = time.monotonic() - t0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert proc.returncode == 0, proc.stderr
    assert elapsed < 5, f'the app waited {elapsed:.1f}s for a server that does not answer (limit 1 s)'
    assert 'pyroscope agent did not stop within PYROSCOPE_SHUTDOWN_TIMEOUT=1.0s' in proc.stderr, proc.stderr
