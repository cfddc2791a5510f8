"""Tenant settings shared by every replica through Redis: :class:`RedisTenantProvider` (redis-py, extra ``redis``).

Each tenant's settings are one Redis hash, ``<SAF_MULTITENANT_REDIS_PREFIX><tenant id>`` (prefix default
``saf:tenant:``), read when the tenant is first used and then served from memory (the provider's LRU cache,
``SAF_MULTITENANT_CACHE_SIZE``). :meth:`RedisTenantProvider.set_tenant_values` writes a hash and publishes the
tenant id on the channel ``<prefix>changed``; every replica listens there (one daemon thread) and re-reads the
changed tenant's hash, so the ``Variables`` it already handed out see the change (once per batch of announcements
waiting: a flood of announcements of one tenant is one read). After a lost connection a
replica re-reads every tenant it caches, since changes made meanwhile were not heard (a connection that
redis-py re-opened by itself, after a ``CLIENT KILL`` or a proxy's restart, included).

While Redis is unreachable the cached tenants keep serving (the outage is logged once, and its end once); a
tenant first used meanwhile raises :class:`TenantStoreUnavailableError`. The listener never dies: a failure is
logged and it reconnects with backoff, re-reading every cached tenant. A hash that cannot be settings (a field
name or value that is not UTF-8 text, a key that is not a hash) affects only its tenant: its first read raises
:class:`TenantValueError` naming the tenant, the key and the problem; a re-read logs that error and the tenant
keeps its last good values; every other tenant's changes keep propagating. ``redis`` is imported when a provider is
created. The URL may hold a password: it is only ever shown masked. The values of a tenant's secret-named fields
(``db_password``) become known secret values as they are read (``util.secrets``): masked wherever the framework
prints them.

Enable it with ``SAF_MULTITENANT_PROVIDER=scitrera_app_framework.ext_plugins.redis_tenants.RedisTenantProvider``
and ``SAF_MULTITENANT_REDIS_URL=redis://:password@host:6379/0``.
"""

from __future__ import annotations

import itertools
import logging
import threading
import weakref
from typing import Any, Iterator, Mapping, Optional
from urllib.parse import unquote

from ..api.variables import Variables
from ..util.parsing import parse_seconds
from ..util.secrets import MASK, add_secret_values, is_secret_key, mask_text, mask_url_credentials
from ._tenant_base import MultiTenantConfigError, MultiTenantError
from ._tenant_provider import BaseMultiTenantProvider

SAF_MULTITENANT_REDIS_URL = 'SAF_MULTITENANT_REDIS_URL'
SAF_MULTITENANT_REDIS_PREFIX = 'SAF_MULTITENANT_REDIS_PREFIX'
SAF_MULTITENANT_REDIS_TIMEOUT = 'SAF_MULTITENANT_REDIS_TIMEOUT'
DEFAULT_PREFIX = 'saf:tenant:'
DEFAULT_TIMEOUT = 2.0
#: the channel name is the prefix followed by this
CHANNEL_SUFFIX = 'changed'
#: the longest pause between two reconnection attempts of the listener (seconds)
MAX_BACKOFF = 2.0
_BATCH = 500  # hashes read per pipeline when re-reading every cached tenant
_DRAIN = 10_000  # announcements taken at once by the listener (each tenant among them is re-read once)


class TenantStoreUnavailableError(MultiTenantError, ConnectionError):
    """The tenant store (Redis) cannot be reached for a tenant that is not cached; the message names the tenant,
    the (masked) URL and the variable holding it."""


class TenantValueError(MultiTenantError, ValueError):
    """A tenant's Redis hash cannot be read as settings (a field name or value that is not UTF-8 text, or a key
    holding another Redis type); the message names the tenant, the Redis key, the field and the problem (never
    the value)."""


def decode_tenant_hash(tenant_id: str, key: str, raw: Any) -> dict[str, str]:
    """Decode the reply of ``HGETALL`` (bytes) to text settings.

    Raises:
        TenantValueError: a field name or value is not UTF-8 (names tenant, key, field and byte offset).
    """
    out: dict[str, str] = {}
    for name, value in raw.items():
        if isinstance(name, bytes):
            try:
                name = name.decode('utf-8')
            except UnicodeDecodeError as e:
                raise TenantValueError(
                    f'tenant {tenant_id!r}: a field name of the Redis hash {key!r} is not UTF-8 text '
                    f'({name[:40]!r}, byte {e.start}): tenant settings are text; delete that field '
                    f'(HDEL) and write it with set_tenant_values') from None
        if isinstance(value, bytes):
            try:
                value = value.decode('utf-8')
            except UnicodeDecodeError as e:
                raise TenantValueError(
                    f'tenant {tenant_id!r}: the value of {name!r} in the Redis hash {key!r} is not UTF-8 text '
                    f'(invalid byte 0x{value[e.start]:02x} at offset {e.start} of {len(value)}): tenant settings '
                    f'are text; rewrite it with set_tenant_values (or HSET a UTF-8 value)') from None
        out[str(name)] = str(value)
    return out


def _show(url: str) -> str:
    """The URL fit to print: the password masked, whether in ``user:password@`` or in the query string
    (``?password=``, as redis-py also takes it)."""
    base, sep, query = url.partition('?')
    if sep:
        pairs = []
        for pair in query.split('&'):
            name, eq, value = pair.partition('=')
            pairs.append(f'{name}={MASK}' if eq and value and is_secret_key(unquote(name)) else pair)
        url = base + sep + '&'.join(pairs)
    return mask_text(mask_url_credentials(url))


def parse_timeout(value: Any) -> float:
    """Parse ``SAF_MULTITENANT_REDIS_TIMEOUT``: seconds > 0.

    Raises:
        ValueError: not a number > 0 (naming the variable and the value).
    """
    return parse_seconds(value, 'SAF_MULTITENANT_REDIS_TIMEOUT')


def redis_text(value: Any) -> str:
    """The text a setting is stored as in Redis: booleans as ``true``/``false``, everything else ``str``."""
    if value is True:
        return 'true'
    if value is False:
        return 'false'
    return value if isinstance(value, str) else str(value)


class TenantHash(Mapping[str, str]):
    """A tenant's settings as last read from Redis: the read-only source of its ``Variables``.

    Replaced whole (one reference assignment) when re-read, so readers never see a half-updated hash; a re-read
    started earlier than the one that produced the current data is dropped. ``get`` is the current dict's own
    ``get`` (what ``Variables`` calls for every lookup).
    """

    __slots__ = ('tenant_id', 'get', '_data', '_seq', '_lock', '__weakref__')

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self._data: dict[str, str] = {}
        self.get = self._data.get  # type: ignore[method-assign]
        self._seq = -1
        self._lock = threading.Lock()

    def update_from(self, data: Mapping[str, str], seq: int) -> bool:
        """Take ``data`` read by the read numbered ``seq``; False when a later read already delivered.

        The values of secret-named fields (``db_password``) become known secret values first (masked wherever the
        framework prints them, as a secrets directory's are), a rotated value too."""
        add_secret_values([val for name, val in data.items() if is_secret_key(name)])
        with self._lock:
            if seq < self._seq:
                return False
            data = dict(data)
            self._data = data
            self.get = data.get  # type: ignore[method-assign]
            self._seq = seq
            return True

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> Any:
        return self._data.keys()

    def __repr__(self) -> str:
        return f'<TenantHash {self.tenant_id!r} fields={len(self._data)}>'


class RedisTenantProvider(BaseMultiTenantProvider):
    """Tenant settings from Redis hashes, shared by replicas and invalidated through Redis pub/sub.

    Args:
        v: the app's ``Variables``.
        logger: the provider's logger.
        url: overrides ``SAF_MULTITENANT_REDIS_URL`` (``redis://[:password@]host:port/db``, ``rediss://``, or
            ``unix://``).
        prefix: overrides ``SAF_MULTITENANT_REDIS_PREFIX`` (default ``saf:tenant:``).
        timeout: overrides ``SAF_MULTITENANT_REDIS_TIMEOUT`` (seconds for a connection or a reply, default 2).
        **kwargs: ``cache_size`` and ``include_env``, as for :class:`BaseMultiTenantProvider`.

    Raises:
        MultiTenantConfigError: the URL is missing or malformed, or redis-py is not installed.
        TenantStoreUnavailableError: Redis cannot be reached at start-up (names the masked URL).
    """

    def __init__(self, v: Variables, logger: Optional[logging.Logger] = None, *, url: Optional[str] = None,
                 prefix: Optional[str] = None, timeout: Optional[float] = None, **kwargs: Any) -> None:
        super().__init__(v, logger, **kwargs)
        raw = url if url is not None else v.environ(SAF_MULTITENANT_REDIS_URL, default=None)
        if raw is None or not str(raw).strip():
            raise MultiTenantConfigError(
                f'{SAF_MULTITENANT_REDIS_URL} is not set: {type(self).__name__} needs the Redis URL that holds the '
                f'tenant settings (redis://[:password@]host:6379/0)')
        self._url = str(raw).strip()
        self._shown = _show(self._url)
        if prefix is None:
            prefix = v.environ(SAF_MULTITENANT_REDIS_PREFIX, default=DEFAULT_PREFIX)
        self._prefix = str(prefix if prefix is not None else DEFAULT_PREFIX)
        self._channel = self._prefix + CHANNEL_SUFFIX
        if timeout is None:
            try:
                timeout = float(v.environ(SAF_MULTITENANT_REDIS_TIMEOUT, default=DEFAULT_TIMEOUT,
                                          type_fn=parse_timeout))
            except ValueError as e:
                raise MultiTenantConfigError(str(e)) from None
        self._timeout = float(timeout)
        self._redis = self._import_redis()
        self._client = self._connect()
        self._hashes: weakref.WeakValueDictionary[str, TenantHash] = weakref.WeakValueDictionary()
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._subscribed = threading.Event()
        self._lost = False
        self._connects = 0  # (re)connections of the listener's pub/sub connection, redis-py's own included
        self._pubsub: Any = None
        self._thread = threading.Thread(target=self._listen, name='saf-tenant-redis', daemon=True)
        self._thread.start()
        if not self._subscribed.wait(self._timeout * 2 + 1.0):
            self._logger.warning('tenant store %s: the change listener is not subscribed yet; changes made by '
                                 'other replicas are seen once it is', self._shown)

    # --- connection --------------------------------------------------------------------------------------
    @staticmethod
    def _import_redis() -> Any:
        try:
            import redis
        except ImportError as e:
            raise MultiTenantConfigError(
                f"RedisTenantProvider needs redis-py, which cannot be imported ({e}): install it with "
                f"pip install 'scitrera-app-framework[redis]'") from e
        return redis

    def _connect(self) -> Any:
        redis = self._redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:
            client = redis.Redis.from_url(
                self._url, decode_responses=False, socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout, retry=Retry(NoBackoff(), 1), health_check_interval=30)
        except ValueError as e:
            raise MultiTenantConfigError(f'{SAF_MULTITENANT_REDIS_URL}={self._shown!r} is not a Redis URL '
                                         f'({mask_text(str(e))}); use redis://[:password@]host:6379/0') from None
        try:
            client.ping()
        except redis.RedisError as e:
            client.close()
            raise TenantStoreUnavailableError(
                f'cannot reach the tenant store {SAF_MULTITENANT_REDIS_URL}={self._shown!r} within '
                f'{self._timeout:g}s ({type(e).__name__}: {mask_text(str(e))[:200]}): start Redis or correct '
                f'the URL') from None
        return client

    @property
    def url(self) -> str:
        """The Redis URL, password masked."""
        return self._shown

    @property
    def prefix(self) -> str:
        """The key prefix of the tenant hashes."""
        return self._prefix

    @property
    def channel(self) -> str:
        """The pub/sub channel announcing changed tenants."""
        return self._channel

    @property
    def connected(self) -> bool:
        """True while the change listener is subscribed (Redis reachable)."""
        return self._subscribed.is_set()

    @property
    def tracked(self) -> int:
        """How many tenant hashes this replica keeps up to date (the cached tenants' and any still referenced)."""
        return len(self._hashes)

    def tenant_key(self, tenant_id: str) -> str:
        """Return the Redis key of the tenant's hash."""
        return self._prefix + tenant_id

    # --- reading -----------------------------------------------------------------------------------------
    def tenant_sources(self, tenant_id: str) -> list[Any]:
        """Return ``[the tenant's hash]`` (empty when Redis has no settings for it).

        Raises:
            TenantStoreUnavailableError: Redis cannot be reached (the tenant is not cached).
            TenantValueError: the tenant's hash holds something that is not text, or its key is not a hash.
        """
        h = self._hashes.get(tenant_id)  # still followed for an evicted copy in use: both share it
        fresh = h is None
        if h is None:
            h = TenantHash(tenant_id)
            self._hashes[tenant_id] = h  # registered before the read: a change announced meanwhile re-reads it
        seq = next(self._seq)
        try:
            data = self._read_hash(tenant_id)
        except TenantValueError:
            if fresh:
                self._hashes.pop(tenant_id, None)
            raise
        except self._redis.RedisError as e:
            raise TenantStoreUnavailableError(
                f'tenant {tenant_id!r} is not cached and the tenant store {SAF_MULTITENANT_REDIS_URL}='
                f'{self._shown!r} cannot be reached ({type(e).__name__}: {mask_text(str(e))[:200]}); cached '
                f'tenants keep serving, this one can be read once Redis is back') from None
        h.update_from(data, seq)
        return [h]

    def refresh(self, tenant_id: str) -> bool:
        """Re-read a tenant's hash now if this replica uses it; returns whether it did.

        Raises:
            redis.RedisError: Redis cannot be reached.
            TenantValueError: the hash cannot be read as settings (the tenant keeps its last good values).
        """
        h = self._hashes.get(tenant_id)
        if h is None:
            return False
        seq = next(self._seq)
        h.update_from(self._read_hash(tenant_id), seq)
        return True

    def _read_hash(self, tenant_id: str) -> dict[str, str]:
        key = self.tenant_key(tenant_id)
        try:
            raw = self._client.hgetall(key)
        except self._redis.ResponseError as e:  # WRONGTYPE: the key holds a string, a list, ...
            raise self._not_a_hash(tenant_id, key, e) from None
        return decode_tenant_hash(tenant_id, key, raw)

    def _not_a_hash(self, tenant_id: str, key: str, e: BaseException) -> TenantValueError:
        return TenantValueError(f'tenant {tenant_id!r}: the Redis key {key!r} is not a hash of settings '
                                f'({mask_text(str(e))[:200]}); delete it or write it with set_tenant_values')

    def refresh_all(self) -> int:
        """Re-read every tenant this replica uses (pipelined); returns how many.

        A tenant whose hash cannot be read as settings keeps its last good values; the error naming it is logged
        and the others are re-read.

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        items = list(self._hashes.items())
        for i in range(0, len(items), _BATCH):
            batch = items[i:i + _BATCH]
            seq = next(self._seq)
            pipe = self._client.pipeline(transaction=False)
            for tenant_id, _h in batch:
                pipe.hgetall(self.tenant_key(tenant_id))
            for (tenant_id, h), raw in zip(batch, pipe.execute(raise_on_error=False)):
                key = self.tenant_key(tenant_id)
                try:
                    if isinstance(raw, self._redis.ResponseError):
                        raise self._not_a_hash(tenant_id, key, raw)
                    if isinstance(raw, BaseException):
                        raise raw
                    h.update_from(decode_tenant_hash(tenant_id, key, raw), seq)
                except TenantValueError as e:
                    self._logger.error('%s; it keeps its last good values', e)
        return len(items)

    # --- writing -----------------------------------------------------------------------------------------
    def set_tenant_values(self, tenant_id: str, mapping: Mapping[str, Any], *, replace: bool = False) -> None:
        """Write settings of a tenant (``None`` deletes a setting; ``replace`` drops the others first) and tell
        every replica, in one transaction; this replica sees the change when the call returns.

        Values are stored as text (booleans as ``true``/``false``); type functions convert them when read.

        Raises:
            TypeError / TenantIdError: invalid tenant id.
            TenantStoreUnavailableError: Redis cannot be reached (nothing was written).
            TenantValueError: the tenant's key holds something that is not a hash (nothing was written), or the
                hash, written, still holds a field that is not UTF-8 text.
        """
        self.validate_tenant_id(tenant_id)
        key = self.tenant_key(tenant_id)
        sets = {str(k): redis_text(val) for k, val in mapping.items() if val is not None}
        dels = [str(k) for k, val in mapping.items() if val is None]
        try:
            pipe = self._client.pipeline(transaction=True)
            if replace:
                pipe.delete(key)
            if sets:
                pipe.hset(key, mapping=sets)
            if dels and not replace:
                pipe.hdel(key, *dels)
            pipe.publish(self._channel, tenant_id)
            pipe.execute()
            self.refresh(tenant_id)
        except self._redis.ResponseError as e:  # WRONGTYPE: the key holds something else (nothing was written)
            raise self._not_a_hash(tenant_id, key, e) from None
        except self._redis.RedisError as e:
            raise TenantStoreUnavailableError(
                f'cannot write the settings of tenant {tenant_id!r}: the tenant store {SAF_MULTITENANT_REDIS_URL}='
                f'{self._shown!r} cannot be reached ({type(e).__name__}: {mask_text(str(e))[:200]})') from None

    def delete_tenant(self, tenant_id: str) -> None:
        """Delete every setting of a tenant and tell every replica.

        Raises:
            TenantStoreUnavailableError: Redis cannot be reached.
        """
        self.set_tenant_values(tenant_id, {}, replace=True)

    # --- the change listener -----------------------------------------------------------------------------
    def _listen(self) -> None:
        """The listener thread: subscribe, re-read changed tenants, reconnect with backoff after a loss."""
        backoff = 0.05
        while not self._stop.is_set():
            pubsub = None
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                self._pubsub = pubsub
                pubsub.subscribe(self._channel)
                # redis-py re-opens a pub/sub connection closed under it (CLIENT KILL, a proxy, a failover) by
                # itself and re-subscribes: count those, announcements made meanwhile were not heard
                pubsub.connection.register_connect_callback(self._on_listener_connect)
                connects = self._connects
                pubsub.get_message(timeout=self._timeout)  # the subscription's confirmation
                if self._lost:
                    n = self.refresh_all()  # changes made while we were away were not heard
                    self._lost = False
                    self._logger.info('tenant store %s is reachable again; re-read %d cached tenant(s)',
                                      self._shown, n)
                self._subscribed.set()
                backoff = 0.05
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if self._connects != connects:  # re-connected (and re-subscribed) by redis-py
                        connects = self._connects
                        n = self.refresh_all()
                        self._logger.warning('tenant store %s: the change listener\'s connection was closed and '
                                             'opened again; announcements made meanwhile were missed, re-read %d '
                                             'cached tenant(s)', self._shown, n)
                    if message is not None and message.get('type') == 'message':
                        # the announcements already waiting too, each tenant re-read once: a read made after its
                        # last announcement arrived sees every change announced
                        waiting = [message.get('data')]
                        while len(waiting) < _DRAIN:
                            more = pubsub.get_message(timeout=0)
                            if more is None:
                                break
                            if more.get('type') == 'message':
                                waiting.append(more.get('data'))
                        for data in dict.fromkeys(waiting):
                            self._on_message(data)
            except Exception as e:  # a lost connection, or the connection closed under us by close()
                self._subscribed.clear()
                if self._stop.is_set():
                    break
                if not isinstance(e, (self._redis.ConnectionError, self._redis.TimeoutError, OSError)):
                    # not a lost connection: a defect; logged every time, the listener restarts all the same
                    self._lost = True
                    self._logger.error('tenant store %s: the change listener failed (%s: %s); restarting it and '
                                       're-reading the cached tenants', self._shown, type(e).__name__,
                                       mask_text(str(e))[:200], exc_info=True)
                elif not self._lost:
                    self._lost = True
                    self._logger.warning('tenant store %s is unreachable (%s: %s); the %d cached tenant(s) keep '
                                         'serving, tenants not cached fail until it is back; retrying',
                                         self._shown, type(e).__name__, mask_text(str(e))[:200], len(self))
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
            finally:
                self._pubsub = None
                if pubsub is not None:
                    try:
                        if pubsub.connection is not None:  # the connection goes back to the pool: not ours then
                            pubsub.connection.deregister_connect_callback(self._on_listener_connect)
                        pubsub.close()
                    except Exception:
                        pass
        self._subscribed.clear()

    def _on_listener_connect(self, connection: Any) -> None:
        """redis-py's callback: the listener's pub/sub connection was (re)opened."""
        self._connects += 1

    def _on_message(self, data: Any) -> None:
        """Handle one announcement on its own: a lost connection propagates (the listener reconnects and re-reads
        every cached tenant); any other failure is logged and the next message is handled."""
        try:
            tenant_id = data.decode('utf-8') if isinstance(data, bytes) else data
            if not isinstance(tenant_id, str):
                return
            self.refresh(tenant_id)
        except (self._redis.ConnectionError, self._redis.TimeoutError, OSError):
            self._lost = True  # re-read everything once the connection is back
            raise
        except TenantValueError as e:
            self._logger.error('%s; it keeps its last good values', e)
        except UnicodeDecodeError:
            self._logger.error('tenant store %s: an announcement on %s is not a UTF-8 tenant id (%r); ignored',
                               self._shown, self._channel, data[:80])
        except Exception as e:
            self._logger.error('tenant store %s: handling the announcement %r on %s failed (%s: %s); the listener '
                               'goes on', self._shown, data if isinstance(data, str) else repr(data)[:80],
                               self._channel, type(e).__name__, mask_text(str(e))[:200], exc_info=True)

    # --- lifecycle ---------------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the change listener thread and close the connections; cached tenants keep serving, but no
        longer see changes. Idempotent."""
        self._stop.set()
        self._thread.join(self._timeout + 2.0)
        try:
            self._client.close()
        except Exception as e:  # best effort at exit
            self._logger.debug('closing the tenant store connection failed: %s', e)

    def __repr__(self) -> str:
        bound = self._max_size or 'unbounded'
        state = 'connected' if self.connected else ('closed' if self._stop.is_set() else 'disconnected')
        return f'<{type(self).__name__} {self._shown} tenants={len(self)} cache={bound} {state}>'


__all__ = ['RedisTenantProvider', 'TenantStoreUnavailableError', 'TenantValueError', 'TenantHash',
           'decode_tenant_hash', 'SAF_MULTITENANT_REDIS_URL',
           'SAF_MULTITENANT_REDIS_PREFIX', 'SAF_MULTITENANT_REDIS_TIMEOUT', 'DEFAULT_PREFIX', 'DEFAULT_TIMEOUT',
           'CHANNEL_SUFFIX', 'parse_timeout', 'redis_text']
