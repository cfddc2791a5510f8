"""The ``python`` requirement of an environment: parsing ``'>=3.9,<3.13'``-style specs and checking versions."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple, Optional, Tuple

if TYPE_CHECKING:
    from ._model import EnvironmentSpec

_PY_CLAUSE_RE = re.compile(r'\s*(~=|==|!=|<=|>=|<|>)?\s*(\d+(?:\.\d+){0,2})(\.\*)?\s*')


class PythonClause(NamedTuple):
    """One clause of a ``python`` requirement: ``>=3.9`` is ``('>=', (3, 9), False)``."""

    op: str  #: ``~=``, ``==``, ``!=``, ``<=``, ``>=``, ``<``, ``>`` or ``''`` (a bare version: a prefix match)
    version: Tuple[int, ...]
    prefix: bool  #: compare only the given parts (``==3.11.*``, or a bare ``3.11``)


def parse_python_spec(spec: str) -> Tuple[PythonClause, ...]:
    """Return the clauses of ``spec`` as ``(operator, version parts, prefix match?)``.

    Raises ``ValueError`` naming the bad clause and the accepted forms.
    """
    clauses = []
    for raw in spec.split(','):
        match = _PY_CLAUSE_RE.fullmatch(raw)
        if not match:
            raise ValueError(f'invalid python requirement clause {raw.strip()!r} in {spec!r}; expected clauses like '
                             "'>=3.9', '<3.13', '3.11' or '==3.11.*' separated by commas")
        op, version, star = match.group(1) or '', match.group(2), bool(match.group(3))
        if star and op not in ('', '==', '!='):
            raise ValueError(f"'.*' is only allowed with == or != (in {spec!r})")
        if op == '~=' and version.count('.') == 0:
            raise ValueError(f"'~=' needs at least two version parts (in {spec!r}), e.g. '~=3.10'")
        clauses.append(PythonClause(op, tuple(int(p) for p in version.split('.')), star or op == ''))
    return tuple(clauses)


def python_satisfies(version: Tuple[int, ...], spec: str) -> bool:
    """Return True if the interpreter ``version`` (e.g. ``(3, 11, 7)``) satisfies the requirement ``spec``.

    Raises ``ValueError`` for a malformed ``spec``.
    """
    full = tuple(version[:3]) + (0,) * (3 - len(version[:3]))
    for op, want, prefix in parse_python_spec(spec):
        padded = want + (0,) * (3 - len(want))
        if prefix:
            same = full[:len(want)] == want
            ok = not same if op == '!=' else same
        elif op == '==':
            ok = full == padded
        elif op == '!=':
            ok = full != padded
        elif op == '>=':
            ok = full >= padded
        elif op == '<=':
            ok = full <= padded
        elif op == '>':
            ok = full > padded
        elif op == '<':
            ok = full < padded
        else:  # ~=X.Y[.Z]: >= X.Y[.Z] and the same release series up to the last given part
            ok = full >= padded and full[:len(want) - 1] == want[:-1]
        if not ok:
            return False
    return True


def check_python_requirement(env: EnvironmentSpec, version: Tuple[int, ...]) -> Optional[str]:
    """Return None if ``version`` satisfies ``env.python`` (or it is unset), else a message saying what is wrong."""
    if env.python is None or python_satisfies(version, env.python):
        return None
    shown = '.'.join(str(p) for p in version[:3])
    return (f"environment {env.name!r} requires python {env.python!r} but the interpreter is {shown}; run the "
            "launcher with a matching python or set 'interpreter' in the environment")
