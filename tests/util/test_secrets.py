"""The secrets policy: which names are secret, how values and texts are masked, bounded quoting."""

from __future__ import annotations

import pytest

from scitrera_app_framework.util import secrets
from scitrera_app_framework.util.secrets import (
    add_secret_patterns,
    bounded_repr,
    is_secret_key,
    mark_secret_key,
    mask_text,
    mask_url_credentials,
    mask_value,
    redact_mapping,
    reset_secret_patterns,
    shown_value,
)


@pytest.fixture(autouse=True)
def _clean_policy() -> object:
    reset_secret_patterns()
    yield
    reset_secret_patterns()


@pytest.mark.parametrize('name', [
    'password', 'DB_PASSWORD', 'db.password', 'db-passwd', 'api-key', 'X-API-KEY', 'apikey', 'PRIVATE-KEY',
    'private_key', 'DB_PASS', 'MYSQL_PWD', 'PASSPHRASE', 'SIGNING_KEY', 'ENCRYPTION_KEY', 'MASTER_KEY',
    'SESSION_COOKIE', 'client_secret', 'GITHUB_TOKEN', 'aws_credentials', 'AUTHORIZATION', 'auth', 'PYROSCOPE_TOKEN',
    'Sentry.DSN', 'AWS_SECRET_ACCESS_KEY', 'access-key', 'session_key', 'auth_header', 'AUTHORIZE_TOKEN',
    'x-authorization',
])
def test_secret_names(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize('name', [
    'DATABASE_URL', 'PYROSCOPE_SERVER', 'HOST', 'PORT', 'region', 'PASSENGER_COUNT', 'BYPASS', 'COMPASS',
    'KEYBOARD', 'SPINE', 'LOGGING_LEVEL', 'BASIC_AUTH_USERNAME', 'AUTH_ENABLED', 'TOKEN_FILE', 'PASSWORD_URL',
    'BOOK_AUTHOR', 'authors', 'CERT_AUTHORITY', 'AUTH_HEADER_NAME',
    '', None, 42,
])
def test_not_secret_names(name: object) -> None:
    assert not is_secret_key(name)


def test_extra_patterns_and_marked_names() -> None:
    assert not is_secret_key('LICENSE_BLOB')
    add_secret_patterns('license, ,dsn-like')
    assert is_secret_key('LICENSE_BLOB') and is_secret_key('my.license') and is_secret_key('X_DSN_LIKE_VALUE')
    assert not is_secret_key('MY_SETTING')
    mark_secret_key('my-setting')
    assert is_secret_key('MY_SETTING') and is_secret_key('my.setting')
    reset_secret_patterns()
    assert not is_secret_key('LICENSE_BLOB') and not is_secret_key('MY_SETTING')


@pytest.mark.parametrize('text, expected', [
    ('http://u:p@ss@host/x', 'http://u:****@host/x'),
    ('postgres://user:s3cret@db:5432/app', 'postgres://user:****@db:5432/app'),
    ('redis://:pw@host', 'redis://:****@host'),
    ('see http://u:pw@h and https://a:b@c.d/e?x=1', 'see http://u:****@h and https://a:****@c.d/e?x=1'),
    ('x://host@y', 'x://host@y'),
    ('no url here', 'no url here'),
])
def test_url_credentials(text: str, expected: str) -> None:
    assert mask_url_credentials(text) == expected


@pytest.mark.parametrize('text, hidden', [
    ('password=hunter2 user=bob', 'hunter2'),
    ('{"api_key": "hunter2", "x": 1}', 'hunter2'),
    ("{'db_password': 'hunter2'}", 'hunter2'),
    ('token: hunter2, other: 1', 'hunter2'),
    ('DB_URL=postgres://a:hunter2@c/d', 'hunter2'),
    # a password in a URL's query string (redis-py, libpq, AMQP clients take it there)
    ('redis://127.0.0.1:6379/0?password=hunter2', 'hunter2'),
    ('connecting to postgresql://db/app?sslmode=require&password=hunter2 now', 'hunter2'),
    ('amqp://host/vhost?auth_token=hunter2#frag', 'hunter2'),
])
def test_mask_text(text: str, hidden: str) -> None:
    out = mask_text(text)
    assert hidden not in out and '****' in out


def test_mask_text_keeps_other_pairs() -> None:
    assert mask_text('user=bob port=5432') == 'user=bob port=5432'


def test_mask_value_and_redact_mapping() -> None:
    assert mask_value('DB_PASSWORD', 'x') == '****'
    assert mask_value('DB_PASSWORD', '') == '' and mask_value('DB_PASSWORD', None) is None
    assert mask_value('DATABASE_URL', 'pg://u:p@h/d') == 'pg://u:****@h/d'
    assert mask_value('PORT', 5432) == 5432
    data = {'token': 'abc', 'nested': {'password': 'x', 'ok': 'pg://u:p@h', 'list': ['pg://a:b@c', 1]},
            'plain': 'v', 'tup': ('pg://a:b@c',)}
    assert redact_mapping(data) == {'token': '****', 'nested': {'password': '****', 'ok': 'pg://u:****@h',
                                                                'list': ['pg://a:****@c', 1]},
                                    'plain': 'v', 'tup': ('pg://a:****@c',)}


def test_bounded_repr_and_shown_value() -> None:
    big = 'x' * 10_000_000
    r = bounded_repr(big)
    assert len(r) < 300 and '10,000,000 characters' in r
    assert shown_value('DB_PASSWORD', 'hunter2') == '****'
    assert shown_value('URL', 'pg://u:hunter2@h') == "'pg://u:****@h'"

    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError('no')

    assert 'unprintable Broken' in bounded_repr(Broken())


def test_name_cache_is_bounded() -> None:
    for i in range(secrets._CACHE_MAX + 10):
        is_secret_key(f'name_{i}')
    assert len(secrets._cache) <= secrets._CACHE_MAX


@pytest.mark.parametrize('text, expected', [
    ('request failed, Authorization: Bearer eyJhbGciOi.abc.def', 'request failed, Authorization: Bearer ****'),
    ('authorization=Basic dXNlcjpwYXNz rest', 'authorization=Basic **** rest'),
    ('Proxy-Authorization: Digest abc123 x', 'Proxy-Authorization: Digest **** x'),
    ('api_token: token abc123', 'api_token: token ****'),
    ("headers {'Authorization': 'Bearer abc'}", "headers {'Authorization': '****'}"),
])
def test_an_authorization_scheme_does_not_shield_the_credential(text: str, expected: str) -> None:
    """``Authorization: Bearer TOKEN`` (an HTTP header line in an error or a log message): the credential after the
    scheme is masked, not the scheme word."""
    assert secrets.mask_text(text) == expected


@pytest.mark.parametrize('text', [
    "plugin 'auth': initialize failed",
    'plugin "auth": initialize failed (see the log)',
    "variable 'API_TOKEN': cannot convert the value",
    "tenant 'acme': the value of 'db_password' is not text",
    'argument --pin: invalid int value',
    'argument --api-token: expected one argument',
])
def test_a_quoted_or_option_label_followed_by_prose_is_no_pair(text: str) -> None:
    """A quoted name (``'auth'``, how messages quote a plugin or variable) or an option name (``--pin``, argparse's
    ``argument --pin:``) followed by ``:`` and prose labels the message; it is no ``name: value`` pair, and the
    first word of the prose is printed as it is."""
    assert mask_text(text) == text


@pytest.mark.parametrize('text, expected', [
    ('ValueError: token=abc rejected', 'ValueError: token=**** rejected'),
    ('RuntimeError: connect failed: password=abc', 'RuntimeError: connect failed: password=****'),
    ('error: token: abc', 'error: token: ****'),
    ('x: y: api_key="abc" z', 'x: y: api_key="****" z'),
    ('{"msg": "token=abc"}', '{"msg": "token=****"}'),
    ('Bearer:token=abc', 'Bearer:token=****'),
    ('error=token:abc', 'error=token:****'),
    ('e: "token": abc', 'e: "token": ****'),
    ('at 2026-12-07T09:00:00Z token: abc', 'at 2026-12-07T09:00:00Z token: ****'),
    ('x: url=http://a/b?token=q', 'x: url=http://a/b?token=****'),
])
def test_a_pair_after_any_prefix_is_masked(text: str, expected: str) -> None:
    """A secret pair right after another label (``ValueError: token=abc``) or inside a non-secret pair's value is
    masked: the label's text is not taken for a value that hides the pair."""
    assert mask_text(text) == expected


@pytest.mark.parametrize('text, expected', [
    ('password: hunter2', 'password: ****'),
    ('password: hunter2 rejected', 'password: **** rejected'),
    ('auth: initialize failed', 'auth: **** failed'),  # (a bare name: cannot be told from password: hunter2 rejected)
    ('"api_token": "x"', '"api_token": "****"'),
    ("{'pin': 1234, 'x': 1}", "{'pin': ****, 'x': 1}"),
    ("{'pin': 1234}", "{'pin': ****}"),
    ("'password': hunter2", "'password': ****"),
    ('--password=hunter2 --pin: 1234', '--password=**** --pin: ****'),
    ("plugin 'auth': 'abc' failed", "plugin 'auth': '****' failed"),
    # a quoted name that no word of prose precedes is a key, even with prose after its value
    ("'password': hunter2 rejected", "'password': **** rejected"),
    ("{'password': hunter2 rejected}", "{'password': **** rejected}"),
    ('"api_token": abc def', '"api_token": **** def'),
])
def test_the_pairs_a_label_rule_keeps(text: str, expected: str) -> None:
    assert mask_text(text) == expected
