"""Config file readers: .env parsing equal to python-dotenv's, linear, read once; errors name file and line and
never quote a secret; bad encodings and deep nesting are clear errors."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Callable

import pytest

from scitrera_app_framework.util.config_files import (
    MAX_DEPTH,
    ConfigFileError,
    parse_env_text,
    parse_json_text,
    parse_toml_text,
    parse_yaml_text,
    read_env_file,
    read_text,
)

ENV_CASES = [
    'A=1\nB=2\n',
    'export A=1\n#comment\n\nB = x y \n',
    'A=${HOSTV}\nB=${A}-x\nC=${NOPE:-dflt}\nD=${A:-z}\n',
    "A='q ${HOSTV}'\nB=\"x\\ny\"\n",
    'A=1 # comment\nB=a#b\n',
    'A\nB=\n',
    'A="multi\nline"\nB=2\n',
    'A=x\r\nB=y\r\n',
    'E=${EMPTY:-d}\nEMPTY=\nF=${EMPTY:-d}\n',
    'A=1\n  B=2\n',
    "KEY='it\\'s'\n",
    'URL=http://u:p@h/x?a=1&b=2\n',
    'D=#c\nG=a #b #c\nH=x#c\n',
    'A=${a:b}\nB=${x:-${y}}\nC=$${HOSTV}}\nD=${}\nE=${HOSTV:-}\nF=${${HOSTV}}\n',
]


@pytest.mark.needs_dotenv
@pytest.mark.parametrize('text', ENV_CASES)
def test_env_results_equal_python_dotenv(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from dotenv import dotenv_values
    monkeypatch.setenv('HOSTV', 'from-env')
    assert parse_env_text(text) == dict(dotenv_values(stream=io.StringIO(text)))


def test_env_expansion_without_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('HOST_SECRET', 'hunter2')
    text = 'X=${HOST_SECRET}\nY=${HOST_SECRET:-none}\nZ=${X}\n'
    assert parse_env_text(text, environ={}) == {'X': '', 'Y': 'none', 'Z': ''}
    assert parse_env_text(text)['X'] == 'hunter2'


@pytest.mark.parametrize('line', [
    pytest.param('DB_PASSWORD="hunter2', marks=pytest.mark.needs_dotenv),
    pytest.param("API_KEY='hunter2", marks=pytest.mark.needs_dotenv),
    pytest.param('export TOKEN="hunter2\nX=1', marks=pytest.mark.needs_dotenv),
    'DB_PASSWORD hunter2', 'TOKEN hunter2=1', 'export API_KEY hunter2',
])
def test_env_syntax_error_names_file_and_line_and_hides_the_secret(tmp_path: Path, line: str) -> None:
    p = tmp_path / 'app.env'
    p.write_text('OK=1\n# c\n' + line + '\n')
    with pytest.raises(ConfigFileError) as ei:
        read_env_file(p)
    msg = str(ei.value)
    assert msg.startswith(f'{p}:3:') and 'hunter2' not in msg
    assert ei.value.line == 3 and ei.value.path == str(p)


@pytest.mark.needs_dotenv
def test_env_syntax_error_quotes_a_non_secret_value_bounded(tmp_path: Path) -> None:
    p = tmp_path / 'app.env'
    p.write_text('NAME="' + 'v' * 5000 + '\n')
    msg = str(pytest.raises(ConfigFileError, read_env_file, p).value)
    assert "'NAME'" in msg and len(msg) < 500


def test_non_utf8_env_file_names_file_and_line(tmp_path: Path) -> None:
    p = tmp_path / 'latin1.env'
    p.write_bytes(b'A=1\nB=caf\xe9\n')
    with pytest.raises(ConfigFileError) as ei:
        read_env_file(p)
    assert str(ei.value).startswith(f'{p}:2:') and 'UTF-8' in str(ei.value)


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='nope.env'):
        read_env_file(tmp_path / 'nope.env')


def test_bom_is_dropped(tmp_path: Path) -> None:
    p = tmp_path / 'bom.env'
    p.write_bytes(b'\xef\xbb\xbfA=1\n')
    assert read_env_file(p) == {'A': '1'}
    assert read_text(p)[1] == 'A=1\n'


def _best(fn: Callable[[], object], n: int = 3) -> float:
    """The least CPU time of ``n`` calls: this thread's CPU time, not wall time, so a loaded machine that preempts
    the long run more often than the short one does not skew a ratio."""
    times = []
    for _ in range(n):
        t0 = time.thread_time()
        fn()
        times.append(time.thread_time() - t0)
    return min(times)


@pytest.mark.parametrize('quoted', [False, pytest.param(True, marks=pytest.mark.needs_dotenv)])
def test_env_parsing_is_linear(quoted: bool) -> None:
    """A ratio, not a timed assertion: 8x the lines must cost well under 8x squared (quadratic would be 64x)."""
    def text(n: int) -> str:
        return ''.join(f'KEY_{i}="value {i}"\n' if quoted else f'KEY_{i}=value_{i}_${{KEY_0}}\n' for i in range(n))

    small, large = text(2_000), text(16_000)
    ratio = _best(lambda: parse_env_text(large)) / _best(lambda: parse_env_text(small))
    assert ratio < 20, f'16k lines took {ratio:.1f}x the time of 2k lines'


@pytest.mark.parametrize('parse, text, kind', [
    (parse_json_text, '[' * 100_000 + ']' * 100_000, 'JSON'),
    (parse_yaml_text, '[' * 5_000 + ']' * 5_000, 'YAML'),
    (parse_toml_text, 'a = ' + '[' * 5_000 + ']' * 5_000, 'TOML'),
    (parse_json_text, '[' * (MAX_DEPTH + 5) + ']' * (MAX_DEPTH + 5), 'JSON'),
])
def test_deep_nesting_is_a_clear_error(parse: Callable[[str, str], object], text: str, kind: str) -> None:
    with pytest.raises(ConfigFileError) as ei:
        parse(text, 'deep.' + kind.lower())
    assert str(ei.value).startswith('deep.') and 'nested too deeply' in str(ei.value) and kind in str(ei.value)


@pytest.mark.parametrize('parse, text, line', [
    (parse_json_text, '{\n  "a": 1,\n  "b": \n}', 4),
    (parse_yaml_text, 'a: 1\nb: [1, 2\nc: 3\n', 3),
    (parse_toml_text, 'a = 1\nb = = 2\n', 2),
])
def test_syntax_errors_name_the_line(parse: Callable[[str, str], object], text: str, line: int) -> None:
    with pytest.raises(ConfigFileError) as ei:
        parse(text, 'f')
    assert ei.value.line == line, str(ei.value)


def test_structured_readers_accept_moderate_nesting() -> None:
    assert parse_json_text('[' * 20 + ']' * 20) is not None
    assert parse_yaml_text('a:\n  b:\n    c: 1\n') == {'a': {'b': {'c': 1}}}


@pytest.mark.parametrize('make', [
    lambda n: '${' * n, lambda n: 'x' + ' ' * n + 'y#', lambda n: '${x:' * n + '}', lambda n: '${a}' * n,
], ids=['unclosed', 'spaces', 'colons', 'many-vars'])
def test_env_expansion_and_comments_are_linear(make: Callable[[int], str]) -> None:
    """Values that made the regular expressions quadratic (an unclosed ${ repeated, a long run of spaces):
    a ratio of 8x the length, not a timed assertion."""
    small, large = 'A=' + make(5_000), 'A=' + make(40_000)
    ratio = _best(lambda: parse_env_text(large)) / max(_best(lambda: parse_env_text(small)), 1e-6)
    assert ratio < 30, f'8x the length took {ratio:.1f}x the time'


@pytest.mark.parametrize('text', [
    'a0: &a0 {x: 1, y: 2}\n' + ''.join(f'a{i}: &a{i} {{p: *a{i - 1}, q: *a{i - 1}}}\n' for i in range(1, 30)),
    'l0: &l0 [1, 2]\n' + ''.join(f'l{i}: &l{i} [*l{i - 1}, *l{i - 1}]\n' for i in range(1, 30)),
])
def test_yaml_alias_bombs_are_rejected_quickly(text: str) -> None:
    t0 = time.perf_counter()
    with pytest.raises(ConfigFileError, match='expands to more than'):
        parse_yaml_text(text, 'bomb.yaml')
    assert time.perf_counter() - t0 < 5  # generous: the bomb would take minutes and gigabytes


def test_yaml_anchors_and_merge_keys_still_work() -> None:
    assert parse_yaml_text('base: &b {x: 1}\nother: {<<: *b, y: 2}\nlist: [*b, *b]\n') == {
        'base': {'x': 1}, 'other': {'x': 1, 'y': 2}, 'list': [{'x': 1}, {'x': 1}]}


def test_a_value_that_is_only_a_comment_is_empty() -> None:
    """python-dotenv changed this between releases (1.2.1: '#c'; 1.2.4: ''); we follow the newer one."""
    assert parse_env_text('E= #c\nF=\t#c x\nD=#c\n') == {'E': '', 'F': '', 'D': '#c'}
