"""Container environment variables of Pods and pod templates: :func:`get_pod_env`, :func:`merge_env_vars`,
:func:`fixed_env_vars`. Pure: works on dicts and kubernetes client objects, never talks to a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Optional

from ._metadata import describe, read_field, write_field


def _pod_spec(pod_def: Any) -> Any:
    """Return the pod spec of a Pod, or of a workload's pod template (Deployment, Job, CronJob, ...)."""
    spec = read_field(pod_def, 'spec')
    job_template = read_field(spec, 'jobTemplate', 'job_template')
    if job_template is not None:
        spec = read_field(job_template, 'spec')
    template = read_field(spec, 'template')
    if template is not None:
        spec = read_field(template, 'spec')
    return spec


def get_pod_env(pod_def: Any, container_name: Optional[str] = None, container_index: int = 0) -> Optional[list[Any]]:
    """Return the ``env`` list of one container of a Pod (or a workload's pod template), for in-place edits.

    The container is picked by ``container_name`` (regular containers first, then init containers) or else by
    ``container_index`` among the regular containers. A missing ``env`` is created as an empty list and stored in
    the container, so edits to the returned list change ``pod_def``. Works on dicts and on kubernetes client objects.

    Returns the list, or None when there is no container to pick from: ``pod_def`` is None, or has no spec, or
    its spec lists no containers (e.g. ``get_pod_env({})`` or ``get_pod_env({'spec': {}})``).
    Raises ValueError when containers exist but none is named ``container_name`` (the message lists them), and
    IndexError when ``container_index`` is out of range of the regular containers.
    """
    spec = _pod_spec(pod_def)
    containers = list(read_field(spec, 'containers') or [])
    init_containers = list(read_field(spec, 'initContainers', 'init_containers') or [])
    if not containers and not init_containers:
        return None
    if container_name is not None:
        candidates = containers + init_containers
        matches = [c for c in candidates if read_field(c, 'name') == container_name]
        if not matches:
            available = [read_field(c, 'name') for c in candidates]
            raise ValueError(
                f'container {container_name!r} not found in {describe(pod_def)}; available containers: {available}'
            )
        container = matches[0]
    else:
        try:
            container = containers[container_index]
        except IndexError:
            raise IndexError(
                f'container index {container_index} is out of range for {describe(pod_def)}, '
                f'which has {len(containers)} container(s)'
            ) from None
    if read_field(container, 'env') is None:
        write_field(container, 'env', [])
    env = read_field(container, 'env')  # re-read: client models may store a copy of the assigned list
    return env  # type: ignore[no-any-return]


def _env_item(item: Any) -> Any:
    """Validate one complex env item; a mapping is copied, with a non-string, non-None ``value`` made ``str``."""
    if isinstance(item, Mapping):
        name = item.get('name')
        if not isinstance(name, str) or not name:
            raise ValueError(f'env item needs a non-empty string "name": {dict(item)!r}')
        if item.get('value') is not None and item.get('valueFrom') is not None:
            raise ValueError(f'env item {name!r} sets both "value" and "valueFrom"; use one of them')
        result = dict(item)
        if result.get('value') is not None and not isinstance(result['value'], str):
            result['value'] = str(result['value'])
        return result
    if isinstance(getattr(item, 'name', None), str) and item.name:
        return item  # a client object such as kubernetes.client.V1EnvVar
    raise TypeError(f'env item must be a mapping with a "name" (or a V1EnvVar), not {item!r}')


def merge_env_vars(env: Optional[list[Any]], *complex_items: Any, key_upper: bool = True,
                   **fixed_pairs: Any) -> list[Any]:
    """Merge env var definitions into the container ``env`` list ``env``, in place.

    ``env`` None starts from a new empty list. ``complex_items`` are full entries (dicts such as
    ``{'name': 'X', 'valueFrom': {...}}`` or client ``V1EnvVar`` objects) whose names are kept as given (a
    non-string ``value`` of a dict is made ``str``); ``fixed_pairs`` become entries as built by
    :func:`fixed_env_vars` (``{'name': KEY, 'value': str(value)}``, so ``DEBUG=True`` gives ``'True'``), with
    names upper-cased unless ``key_upper`` is False. An entry whose name is already in ``env`` replaces the
    first such entry (keeping its position) and removes later duplicates; new names are appended. Complex items
    are applied first, in order, then the fixed pairs.

    Returns ``env`` (or the new list when ``env`` was None). Raises ValueError for an item without a name or with
    both ``value`` and ``valueFrom``, and TypeError when ``env`` is not a list or an item is neither a mapping nor
    an object with a ``name``.
    """
    if env is None:
        env = []
    elif not isinstance(env, list):
        raise TypeError(f'env must be a list (e.g. from get_pod_env()) or None, not {type(env).__name__}')
    items = [_env_item(item) for item in complex_items]
    items.extend(fixed_env_vars(key_upper=key_upper, **fixed_pairs))
    for item in items:
        name = read_field(item, 'name')
        positions = [i for i, existing in enumerate(env) if read_field(existing, 'name') == name]
        if not positions:
            env.append(item)
            continue
        env[positions[0]] = item
        for i in reversed(positions[1:]):
            del env[i]
    return env


def fixed_env_vars(key_upper: bool = True, **pairs: Any) -> list[dict[str, str]]:
    """Return ``[{'name': KEY, 'value': str(value)}, ...]`` for the keyword arguments, in order.

    Names are upper-cased unless ``key_upper`` is False (``key_upper`` itself is never an entry). Values are
    written as ``str(value)``: ``DEBUG=True`` gives ``'True'``, ``PORT=8080`` gives ``'8080'``.
    """
    return [{'name': key.upper() if key_upper else key, 'value': str(value)} for key, value in pairs.items()]
