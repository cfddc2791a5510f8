"""Small helpers for Kubernetes manifests and Pods.

Pure helpers (``parse_yaml``, ``get_pod_env``, ``merge_env_vars``, ``fixed_env_vars``, the metadata getters and
``get_headless_service_dns_name_for_pod``) work on plain dicts (loaded YAML) and, where noted, on objects of the
official ``kubernetes`` client; they never touch a cluster.

API helpers (``apply_yaml_object``, ``start_pod``, ``is_pod_running``, ``is_pod_in_terminated_state``,
``pod_exists``) need the ``kubernetes`` package (``pip install 'scitrera-app-framework[k8s]'``). It is imported
lazily, on the first call of such a helper, never when this module is imported. Which cluster they talk to:

1. the ``api_client=`` keyword (a ``kubernetes.client.ApiClient``), when given;
2. else the client installed with :func:`set_api_client`;
3. else a client built once, on first use, from the kube config: ``$KUBECONFIG`` / ``~/.kube/config``, or the
   in-cluster service account when running in a Pod (tried first when ``KUBERNETES_SERVICE_HOST`` is set and
   ``KUBECONFIG`` is not). Nothing in the user's kube config file is ever written back.

Requests go straight to the API server's REST paths (``/api/v1/...``, ``/apis/<group>/<version>/...``) through the
``ApiClient``'s own connection pool, host and credentials, so TLS, client certificates, bearer tokens and token
refresh behave exactly as with the generated APIs, while the code stays independent of the generated client's
version. ``apply`` is server-side apply: ``PATCH`` with ``Content-Type: application/apply-patch+yaml``,
``fieldManager=scitrera-app-framework`` and ``force=true``. Responses are returned as plain dicts. Kinds are
mapped to REST paths from a built-in table of common kinds (core/v1, apps/v1, batch/v1, networking, RBAC, ...);
any other kind (e.g. a custom resource) is looked up once through the API server's discovery endpoint for its
``apiVersion``. API errors surface as ``kubernetes.client.exceptions.ApiException`` (``.status`` holds the HTTP
status).
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from collections.abc import Mapping, MutableMapping
from typing import Any, Callable, Optional, Union
from urllib.parse import quote, urlencode

from ..exceptions import SAFError

__all__ = [
    'apply_yaml_object',
    'parse_yaml',
    'start_pod',
    'is_pod_running',
    'is_pod_in_terminated_state',
    'pod_exists',
    'get_pod_env',
    'merge_env_vars',
    'fixed_env_vars',
    'get_metadata_name',
    'get_metadata_namespace',
    'get_headless_service_dns_name_for_pod',
]

#: fieldManager recorded by server-side apply.
FIELD_MANAGER = 'scitrera-app-framework'
#: namespace used when an object's metadata names none.
DEFAULT_NAMESPACE = 'default'
#: default bound, in seconds, on the waiting done by :func:`start_pod`.
DEFAULT_WAIT_TIMEOUT = 300.0
#: timeout, in seconds, of a single HTTP request that is not part of a bounded wait.
REQUEST_TIMEOUT = 60.0

_INSTALL_HINT = "pip install 'scitrera-app-framework[k8s]'"
_VERBS = ('apply', 'get', 'replace')
_TERMINATED_PHASES = ('Succeeded', 'Failed')

# (apiVersion, kind) -> (plural resource name, namespaced?)
_KNOWN_RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ('v1', 'Pod'): ('pods', True),
    ('v1', 'Service'): ('services', True),
    ('v1', 'ConfigMap'): ('configmaps', True),
    ('v1', 'Secret'): ('secrets', True),
    ('v1', 'ServiceAccount'): ('serviceaccounts', True),
    ('v1', 'PersistentVolumeClaim'): ('persistentvolumeclaims', True),
    ('v1', 'Endpoints'): ('endpoints', True),
    ('v1', 'LimitRange'): ('limitranges', True),
    ('v1', 'ResourceQuota'): ('resourcequotas', True),
    ('v1', 'ReplicationController'): ('replicationcontrollers', True),
    ('v1', 'Namespace'): ('namespaces', False),
    ('v1', 'PersistentVolume'): ('persistentvolumes', False),
    ('v1', 'Node'): ('nodes', False),
    ('apps/v1', 'Deployment'): ('deployments', True),
    ('apps/v1', 'StatefulSet'): ('statefulsets', True),
    ('apps/v1', 'DaemonSet'): ('daemonsets', True),
    ('apps/v1', 'ReplicaSet'): ('replicasets', True),
    ('batch/v1', 'Job'): ('jobs', True),
    ('batch/v1', 'CronJob'): ('cronjobs', True),
    ('networking.k8s.io/v1', 'Ingress'): ('ingresses', True),
    ('networking.k8s.io/v1', 'NetworkPolicy'): ('networkpolicies', True),
    ('networking.k8s.io/v1', 'IngressClass'): ('ingressclasses', False),
    ('policy/v1', 'PodDisruptionBudget'): ('poddisruptionbudgets', True),
    ('autoscaling/v1', 'HorizontalPodAutoscaler'): ('horizontalpodautoscalers', True),
    ('autoscaling/v2', 'HorizontalPodAutoscaler'): ('horizontalpodautoscalers', True),
    ('rbac.authorization.k8s.io/v1', 'Role'): ('roles', True),
    ('rbac.authorization.k8s.io/v1', 'RoleBinding'): ('rolebindings', True),
    ('rbac.authorization.k8s.io/v1', 'ClusterRole'): ('clusterroles', False),
    ('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'): ('clusterrolebindings', False),
    ('storage.k8s.io/v1', 'StorageClass'): ('storageclasses', False),
    ('apiextensions.k8s.io/v1', 'CustomResourceDefinition'): ('customresourcedefinitions', False),
}
_discovered_resources: dict[tuple[str, str], tuple[str, bool]] = {}

_client_lock = threading.Lock()
_api_client: Any = None


class YAMLParseError(SAFError, ValueError):
    """Raised by :func:`parse_yaml` for malformed or unsafe YAML; names the source and the line."""

    def __init__(self, source: str, line: Optional[int], column: Optional[int], problem: str) -> None:
        self.source = source
        self.line = line
        self.column = column
        self.problem = problem
        where = source if line is None else f'{source}, line {line}, column {column}'
        super().__init__(f'invalid YAML in {where}: {problem}')


class KubeConfigError(SAFError, RuntimeError):
    """Raised when no Kubernetes configuration (kube config file or in-cluster account) can be loaded."""


# ---------------------------------------------------------------------------------------------------------------------
# YAML


def parse_yaml(path_or_text: Union[str, bytes, os.PathLike[str]]) -> Any:
    """Parse YAML from a file path or from YAML text, with ``yaml.safe_load_all`` only.

    A ``str`` without a newline that names an existing file is read as a path; ``os.PathLike`` is always a path;
    anything else is YAML text. Empty documents are dropped.

    Returns the single document, a list when there are several documents, or None when there are none.
    Raises FileNotFoundError for a path-like argument (or a one-line string ending in ``.yaml``/``.yml``) that
    does not exist, and :class:`YAMLParseError` (a ``ValueError``) naming the file (or ``<text>``), line and
    column for malformed YAML or tags that safe loading refuses, such as ``!!python/object``.
    """
    import yaml

    if isinstance(path_or_text, os.PathLike):
        source = os.fspath(path_or_text)
        text = _read_text_file(source)
    elif isinstance(path_or_text, bytes):
        source, text = '<text>', path_or_text.decode('utf-8')
    elif isinstance(path_or_text, str):
        candidate = path_or_text.strip()
        if '\n' not in path_or_text and candidate and os.path.isfile(candidate):
            source = candidate
            text = _read_text_file(source)
        elif '\n' not in path_or_text and candidate.lower().endswith(('.yaml', '.yml')):
            raise FileNotFoundError(f'YAML file not found: {candidate}')
        else:
            source, text = '<text>', path_or_text
    else:
        raise TypeError(f'parse_yaml() expects a path or YAML text, not {type(path_or_text).__name__}')

    try:
        docs = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
        problem = getattr(exc, 'problem', None) or str(exc)
        context = getattr(exc, 'context', None)
        if context:
            problem = f'{problem} ({context})'
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        raise YAMLParseError(source, line, column, problem) from exc

    if not docs:
        return None
    return docs[0] if len(docs) == 1 else docs


def _read_text_file(path: str) -> str:
    with open(path, encoding='utf-8') as fh:
        return fh.read()


# ---------------------------------------------------------------------------------------------------------------------
# metadata and manifest helpers (no API access)


def _field(obj: Any, key: str, attr: Optional[str] = None) -> Any:
    """Read ``key`` from a mapping, or attribute ``attr`` (default ``key``) from a client object."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, attr or key, None)


def _set_field(obj: Any, key: str, value: Any, attr: Optional[str] = None) -> None:
    if isinstance(obj, MutableMapping):
        obj[key] = value
    else:
        setattr(obj, attr or key, value)


def _kind_of(obj: Any) -> str:
    return str(_field(obj, 'kind') or type(obj).__name__)


def get_metadata_name(obj: Any) -> Optional[str]:
    """Return ``metadata.name`` of a manifest dict or a kubernetes client object.

    Returns None when the object (or its metadata) has no name; never raises for a missing field.
    """
    return _field(_field(obj, 'metadata'), 'name')


def get_metadata_namespace(obj: Any) -> Optional[str]:
    """Return ``metadata.namespace`` of a manifest dict or a kubernetes client object.

    Returns None when the object (or its metadata) names no namespace; no default such as ``'default'`` is
    invented here (the API helpers use ``'default'`` for such objects, as ``kubectl`` does).
    """
    return _field(_field(obj, 'metadata'), 'namespace')


def _required_name(obj: Any) -> str:
    """Return ``metadata.name`` as a string; raises ValueError naming the kind when it is missing or empty."""
    name = get_metadata_name(obj)
    if not name:
        raise ValueError(f'{_kind_of(obj)} object has no metadata.name')
    return str(name)


def _namespace_or_default(obj: Any) -> str:
    """Return ``metadata.namespace`` as a string, or :data:`DEFAULT_NAMESPACE` when it names none."""
    namespace = get_metadata_namespace(obj)
    return str(namespace) if namespace else DEFAULT_NAMESPACE


def get_headless_service_dns_name_for_pod(pod_def: Any, svc_def: Any) -> str:
    """Return ``<pod>.<service>.<namespace>.svc``, the DNS name of a Pod behind a headless Service.

    ``<pod>`` is the Pod's ``spec.hostname`` when set, else its name; the namespace is the Pod's, else the
    Service's, else ``'default'``. Raises ValueError when a name is missing or the two objects explicitly name
    different namespaces (the DNS record would not exist).
    """
    pod_ns = _field(_field(pod_def, 'metadata'), 'namespace')
    svc_ns = _field(_field(svc_def, 'metadata'), 'namespace')
    if pod_ns and svc_ns and pod_ns != svc_ns:
        raise ValueError(
            f'pod {_required_name(pod_def)!r} is in namespace {pod_ns!r} but service '
            f'{_required_name(svc_def)!r} is in {svc_ns!r}; a headless service only resolves its own namespace'
        )
    host = _field(_field(pod_def, 'spec'), 'hostname') or _required_name(pod_def)
    namespace = pod_ns or svc_ns or DEFAULT_NAMESPACE
    return f'{host}.{_required_name(svc_def)}.{namespace}.svc'


def _pod_spec(pod_def: Any) -> Any:
    """Return the pod spec of a Pod, or of a workload's pod template (Deployment, Job, CronJob, ...)."""
    spec = _field(pod_def, 'spec')
    job_template = _field(spec, 'jobTemplate', 'job_template')
    if job_template is not None:
        spec = _field(job_template, 'spec')
    template = _field(spec, 'template')
    if template is not None:
        spec = _field(template, 'spec')
    return spec


def _describe(obj: Any) -> str:
    name = _field(_field(obj, 'metadata'), 'name')
    return f'{_kind_of(obj)} {name!r}' if name else _kind_of(obj)


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
    containers = list(_field(spec, 'containers') or [])
    init_containers = list(_field(spec, 'initContainers', 'init_containers') or [])
    if not containers and not init_containers:
        return None
    if container_name is not None:
        candidates = containers + init_containers
        matches = [c for c in candidates if _field(c, 'name') == container_name]
        if not matches:
            available = [_field(c, 'name') for c in candidates]
            raise ValueError(
                f'container {container_name!r} not found in {_describe(pod_def)}; available containers: {available}'
            )
        container = matches[0]
    else:
        try:
            container = containers[container_index]
        except IndexError:
            raise IndexError(
                f'container index {container_index} is out of range for {_describe(pod_def)}, '
                f'which has {len(containers)} container(s)'
            ) from None
    if _field(container, 'env') is None:
        _set_field(container, 'env', [])
    env = _field(container, 'env')  # re-read: client models may store a copy of the assigned list
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
        name = _field(item, 'name')
        positions = [i for i, existing in enumerate(env) if _field(existing, 'name') == name]
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


# ---------------------------------------------------------------------------------------------------------------------
# API client handling (lazy)


def _require_kubernetes() -> Any:
    """Import and return the ``kubernetes`` package; raises ImportError with the install hint when missing."""
    try:
        import kubernetes
        import kubernetes.client
        import kubernetes.config
    except ImportError as exc:
        raise ImportError(
            f'the Kubernetes helpers need the official kubernetes client: {_INSTALL_HINT} ({exc})'
        ) from exc
    return kubernetes


def set_api_client(api_client: Any) -> Any:
    """Install ``api_client`` (a ``kubernetes.client.ApiClient``) as the default for the API helpers.

    Passing None drops the default, so the next API call loads the kube config again. Returns the previous
    default client (None if there was none).
    """
    global _api_client
    with _client_lock:
        previous, _api_client = _api_client, api_client
    return previous


def _load_default_client() -> Any:
    kubernetes = _require_kubernetes()
    kconfig = kubernetes.config
    # read at call time: the kubernetes package snapshots $KUBECONFIG when it is imported
    kubeconfig_env = os.environ.get('KUBECONFIG')
    kubeconfig = kubeconfig_env or os.path.join(os.path.expanduser('~'), '.kube', 'config')
    in_cluster_first = bool(os.environ.get('KUBERNETES_SERVICE_HOST')) and not kubeconfig_env
    attempts = ('in-cluster', 'kube config') if in_cluster_first else ('kube config', 'in-cluster')
    failures: list[str] = []
    last_exc: Optional[BaseException] = None
    for attempt in attempts:
        try:
            if attempt == 'kube config':
                return kconfig.new_client_from_config(config_file=kubeconfig, persist_config=False)
            configuration = kubernetes.client.Configuration()
            kconfig.load_incluster_config(client_configuration=configuration)
            return kubernetes.client.ApiClient(configuration=configuration)
        except Exception as exc:  # the loaders raise ConfigException, OSError, ValueError, ...
            label = f'kube config ({kubeconfig})' if attempt == 'kube config' else 'in-cluster config'
            failures.append(f'{label}: {str(exc).rstrip(".")}')
            last_exc = exc
    raise KubeConfigError(
        'could not load a Kubernetes configuration; tried ' + '; '.join(failures)
        + '. Set KUBECONFIG or create ~/.kube/config, run inside a cluster, or pass api_client= '
        '(or call set_api_client()) with a kubernetes.client.ApiClient'
    ) from last_exc


def _get_api_client(api_client: Any = None) -> Any:
    """Return the client to use: the argument, else the installed default, else one loaded from kube config."""
    _require_kubernetes()
    if api_client is not None:
        return api_client
    global _api_client
    with _client_lock:
        if _api_client is None:
            _api_client = _load_default_client()
        return _api_client


def _request(
    api_client: Any,
    method: str,
    path: str,
    *,
    query: Optional[Mapping[str, str]] = None,
    body: Any = None,
    content_type: str = 'application/json',
    timeout: Optional[float] = REQUEST_TIMEOUT,
) -> Any:
    """Send one request to the API server; returns the decoded JSON body (None when empty).

    Raises ``kubernetes.client.exceptions.ApiException`` (or its status-specific subclass) for non-2xx answers.
    """
    kubernetes = _require_kubernetes()
    exceptions = kubernetes.client.exceptions
    configuration = api_client.configuration
    headers: dict[str, str] = {}
    headers.update(getattr(api_client, 'default_headers', None) or {})
    headers['Accept'] = 'application/json'
    query_params = dict(query or {})
    for auth in (configuration.auth_settings() or {}).values():
        value = auth.get('value')
        if not value:
            continue
        if auth.get('in') == 'header':
            headers[auth['key']] = value
        elif auth.get('in') == 'query':
            query_params[auth['key']] = value
    url = str(configuration.host).rstrip('/') + path
    if query_params:
        url += '?' + urlencode(query_params)
    data = None
    if body is not None:
        data = json.dumps(body).encode('utf-8')
        headers['Content-Type'] = content_type
    kwargs: dict[str, Any] = {}
    if timeout is not None:
        kwargs['timeout'] = max(timeout, 0.05)
    response = api_client.rest_client.pool_manager.request(method, url, body=data, headers=headers, **kwargs)
    raw = response.data or b''
    if not 200 <= response.status <= 299:
        error_cls = {
            400: 'BadRequestException', 401: 'UnauthorizedException', 403: 'ForbiddenException',
            404: 'NotFoundException', 409: 'ConflictException', 422: 'UnprocessableEntityException',
        }.get(response.status, 'ServiceException' if response.status >= 500 else 'ApiException')
        error = getattr(exceptions, error_cls, exceptions.ApiException)(status=response.status, reason=response.reason)
        error.body = raw.decode('utf-8', errors='replace')
        error.headers = response.headers
        raise error
    return json.loads(raw) if raw.strip() else None


def _status_of(exc: BaseException) -> Optional[int]:
    return getattr(exc, 'status', None)


def _is_api_exception(exc: BaseException) -> bool:
    exceptions = _require_kubernetes().client.exceptions
    return isinstance(exc, exceptions.ApiException)


# ---------------------------------------------------------------------------------------------------------------------
# generic objects


def _as_dict(obj: Any, api_client: Any) -> dict[str, Any]:
    """Return a deep copy of a manifest as a dict (client objects serialized with camelCase keys)."""
    if isinstance(obj, Mapping):
        return copy.deepcopy(dict(obj))
    data = api_client.sanitize_for_serialization(obj)
    if not isinstance(data, dict):
        raise TypeError(f'expected a Kubernetes object (dict or client model), not {type(obj).__name__}')
    return data


def _resource_info(api_client: Any, api_version: str, kind: str) -> tuple[str, bool]:
    """Return (plural, namespaced) for a kind, from the built-in table or the API server's discovery."""
    key = (api_version, kind)
    info = _KNOWN_RESOURCES.get(key) or _discovered_resources.get(key)
    if info is not None:
        return info
    try:
        listing = _request(api_client, 'GET', _api_prefix(api_version))
    except Exception as exc:
        if _is_api_exception(exc) and _status_of(exc) == 404:
            raise ValueError(
                f'unknown kind {kind!r}: the API server does not serve apiVersion {api_version!r}'
            ) from exc
        raise
    for resource in (listing or {}).get('resources') or []:
        if resource.get('kind') == kind and '/' not in str(resource.get('name', '/')):
            info = (str(resource['name']), bool(resource.get('namespaced')))
            _discovered_resources[key] = info
            return info
    raise ValueError(f'unknown kind {kind!r}: apiVersion {api_version!r} on the API server has no such resource')


def _api_prefix(api_version: str) -> str:
    return '/api/v1' if api_version == 'v1' else f'/apis/{api_version}'


def _object_path(api_client: Any, body: Mapping[str, Any], *, collection: bool = False) -> str:
    api_version, kind = body.get('apiVersion'), body.get('kind')
    if not api_version or not kind:
        raise ValueError(
            f'object {_field(body.get("metadata"), "name")!r} needs both apiVersion and kind '
            f'(got apiVersion={api_version!r}, kind={kind!r})'
        )
    plural, namespaced = _resource_info(api_client, str(api_version), str(kind))
    path = _api_prefix(str(api_version))
    if namespaced:
        path += '/namespaces/' + quote(_namespace_or_default(body), safe='')
    path += '/' + plural
    if not collection:
        path += '/' + quote(_required_name(body), safe='')
    return path


def apply_yaml_object(obj: Any, verb: str = 'apply', *, api_client: Any = None,
                      field_manager: str = FIELD_MANAGER, force: bool = True) -> Any:
    """Apply, read or replace a Kubernetes object (a manifest dict, a client object, or a list of them).

    ``verb``: ``'apply'`` does a server-side apply (PATCH ``application/apply-patch+yaml`` with
    ``fieldManager=field_manager`` and ``force``; creates the object if absent; ``metadata.managedFields`` is
    dropped from the request); ``'get'`` reads the object; ``'replace'`` PUTs the object (copying the live
    ``resourceVersion`` when the manifest has none), or creates it when absent.

    Returns the object as the API server returned it (a dict), or a list of them for a list argument.
    Raises ValueError for an unknown verb, a missing apiVersion/kind/name, or a kind the API server does not serve;
    ImportError without the kubernetes package; :class:`KubeConfigError` without a usable configuration; and
    ``kubernetes.client.exceptions.ApiException`` for API errors (e.g. ``status == 404`` for ``'get'`` of a
    missing object).
    """
    if verb not in _VERBS:
        raise ValueError(f'unknown verb {verb!r}; expected one of {", ".join(_VERBS)}')
    client = _get_api_client(api_client)
    if isinstance(obj, (list, tuple)):
        return [apply_yaml_object(item, verb, api_client=client, field_manager=field_manager, force=force)
                for item in obj]
    body = _as_dict(obj, client)
    path = _object_path(client, body)
    if verb == 'get':
        return _request(client, 'GET', path)
    if verb == 'apply':
        metadata = body.get('metadata')
        if isinstance(metadata, dict):
            metadata.pop('managedFields', None)
        query = {'fieldManager': field_manager}
        if force:
            query['force'] = 'true'
        return _request(client, 'PATCH', path, query=query, body=body,
                        content_type='application/apply-patch+yaml')
    try:
        current = _request(client, 'GET', path)
    except Exception as exc:
        if _is_api_exception(exc) and _status_of(exc) == 404:
            return _request(client, 'POST', _object_path(client, body, collection=True), body=body)
        raise
    metadata = body.setdefault('metadata', {})
    if not metadata.get('resourceVersion'):
        live_version = ((current or {}).get('metadata') or {}).get('resourceVersion')
        if live_version:
            metadata['resourceVersion'] = live_version
    return _request(client, 'PUT', path, body=body)


# ---------------------------------------------------------------------------------------------------------------------
# pods


def _pod_path(pod_def: Any) -> str:
    namespace = quote(_namespace_or_default(pod_def), safe='')
    return f'/api/v1/namespaces/{namespace}/pods/{quote(_required_name(pod_def), safe="")}'


def _read_pod(client: Any, pod_def: Any, timeout: Optional[float] = REQUEST_TIMEOUT) -> Optional[dict[str, Any]]:
    """Return the live pod as a dict, or None when it does not exist."""
    try:
        return _request(client, 'GET', _pod_path(pod_def), timeout=timeout)  # type: ignore[no-any-return]
    except Exception as exc:
        if _is_api_exception(exc) and _status_of(exc) == 404:
            return None
        raise


def _phase(pod: Optional[Mapping[str, Any]]) -> Optional[str]:
    return ((pod or {}).get('status') or {}).get('phase')


def pod_exists(pod_def: Any, *, api_client: Any = None) -> bool:
    """Return True when the Pod named by ``pod_def`` (dict or client object) exists in its namespace.

    Raises ImportError without the kubernetes package, :class:`KubeConfigError` without a configuration, and
    ``ApiException`` for API errors other than 404.
    """
    return _read_pod(_get_api_client(api_client), pod_def) is not None


def is_pod_running(pod_def: Any, strict: bool = False, *, api_client: Any = None) -> bool:
    """Return True when the live Pod's phase is Running, or Pending as well when ``strict`` is False.

    A missing Pod is not running. Raises as :func:`pod_exists`.
    """
    phase = _phase(_read_pod(_get_api_client(api_client), pod_def))
    return phase == 'Running' or (not strict and phase == 'Pending')


def is_pod_in_terminated_state(pod_def: Any, *, api_client: Any = None) -> bool:
    """Return True when the live Pod has finished (phase Succeeded or Failed); False if missing or still going.

    Raises as :func:`pod_exists`.
    """
    return _phase(_read_pod(_get_api_client(api_client), pod_def)) in _TERMINATED_PHASES


class _Deadline:
    """Tracks the overall bound of one waiting call."""

    def __init__(self, timeout: Optional[float]) -> None:
        self.timeout = timeout
        self.end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> Optional[float]:
        return None if self.end is None else max(self.end - time.monotonic(), 0.0)

    def request_timeout(self) -> float:
        remaining = self.remaining()
        return REQUEST_TIMEOUT if remaining is None else min(max(remaining, 0.05), REQUEST_TIMEOUT)

    def expired(self) -> bool:
        return self.end is not None and time.monotonic() >= self.end


def _poll_pod(client: Any, pod_def: Any, done: Callable[[Optional[dict[str, Any]]], bool], goal: str,
              wait_delay: float, deadline: _Deadline, missing_ok: bool = False) -> Optional[dict[str, Any]]:
    """Read the pod every ``wait_delay`` seconds until ``done(pod)``; returns the last pod read (None if gone).

    Raises TimeoutError naming the pod and the goal when the deadline passes first, and LookupError when the pod
    disappears (unless ``missing_ok``).
    """
    import urllib3

    label = f'{_namespace_or_default(pod_def)}/{_required_name(pod_def)}'
    pod: Optional[dict[str, Any]] = None
    while True:
        try:
            pod = _read_pod(client, pod_def, timeout=deadline.request_timeout())
        except urllib3.exceptions.HTTPError as exc:
            if not deadline.expired():
                raise
            raise TimeoutError(f'pod {label} did not {goal} within {deadline.timeout}s: {exc}') from exc
        if done(pod):
            return pod
        if pod is None and not missing_ok:
            raise LookupError(f'pod {label} disappeared while waiting for it to {goal}')
        remaining = deadline.remaining()
        if remaining is not None and remaining <= 0:
            state = 'gone' if pod is None else f'phase {_phase(pod)!r}'
            raise TimeoutError(f'pod {label} did not {goal} within {deadline.timeout}s (last seen: {state})')
        time.sleep(wait_delay if remaining is None else min(wait_delay, remaining))


def start_pod(pod_def: Any, wait: bool = True, replace: bool = False, wait_delay: float = 0.25,
              wait_until_terminated: bool = False, *, timeout: Optional[float] = DEFAULT_WAIT_TIMEOUT,
              api_client: Any = None) -> Any:
    """Create a Pod from ``pod_def`` (dict or client object) and optionally wait for it.

    With ``replace``, an existing Pod of that name is deleted first and its removal awaited (Pod specs are mostly
    immutable, so replacing means re-creating). With ``wait``, the Pod is polled every ``wait_delay`` seconds
    until it is Running (or has already finished); ``wait_until_terminated`` waits until it has finished
    (Succeeded or Failed) instead, and implies waiting. ``timeout`` bounds all waiting of the call in seconds
    (None: no bound). ``apiVersion``/``kind`` default to ``v1``/``Pod``.

    Returns the last Pod state read (the creation response when not waiting), as a dict.
    Raises TimeoutError naming the pod when the wait exceeds ``timeout``; LookupError when the Pod is deleted by
    someone else while being waited for; ValueError for a non-Pod object or a
    negative ``wait_delay``/``timeout``; ``ApiException`` for API errors, e.g. ``status == 409`` when the Pod exists
    and ``replace`` is False; ImportError and :class:`KubeConfigError` as the other API helpers.
    """
    if wait_delay < 0:
        raise ValueError(f'wait_delay must be >= 0, got {wait_delay!r}')
    if timeout is not None and timeout < 0:
        raise ValueError(f'timeout must be >= 0 seconds or None, got {timeout!r}')
    client = _get_api_client(api_client)
    body = _as_dict(pod_def, client)
    body.setdefault('apiVersion', 'v1')
    body.setdefault('kind', 'Pod')
    if body['apiVersion'] != 'v1' or body['kind'] != 'Pod':
        raise ValueError(f'start_pod() needs a v1 Pod, got {body["apiVersion"]}/{body["kind"]}')
    deadline = _Deadline(timeout)

    if replace and _read_pod(client, body) is not None:
        try:
            _request(client, 'DELETE', _pod_path(body))
        except Exception as exc:
            if not (_is_api_exception(exc) and _status_of(exc) == 404):
                raise
        _poll_pod(client, body, lambda pod: pod is None, 'go away after deletion', wait_delay, deadline,
                  missing_ok=True)

    namespace = quote(_namespace_or_default(body), safe='')
    created = _request(client, 'POST', f'/api/v1/namespaces/{namespace}/pods', body=body)
    if not (wait or wait_until_terminated):
        return created

    def finished(pod: Optional[dict[str, Any]]) -> bool:
        return _phase(pod) in _TERMINATED_PHASES

    def running(pod: Optional[dict[str, Any]]) -> bool:
        return _phase(pod) == 'Running' or finished(pod)

    if wait_until_terminated:
        return _poll_pod(client, body, finished, 'terminate (Succeeded or Failed)', wait_delay, deadline)
    return _poll_pod(client, body, running, 'reach phase Running', wait_delay, deadline)
