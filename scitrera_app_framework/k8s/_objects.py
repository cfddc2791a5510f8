"""Any Kubernetes object through the API: :func:`apply_yaml_object` (server-side apply, get, replace).

Kinds are mapped to REST paths from a built-in table of common kinds (core/v1, apps/v1, batch/v1, networking,
RBAC, ...); any other kind (e.g. a custom resource) is looked up once through the API server's discovery endpoint
for its ``apiVersion`` and remembered for the process.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from ._client import get_api_client
from ._metadata import namespace_or_default, read_field, required_name
from ._transport import is_not_found, request

#: fieldManager recorded by server-side apply.
FIELD_MANAGER = 'scitrera-app-framework'

_VERBS = ('apply', 'get', 'replace')


class _Resource(NamedTuple):
    """How the API serves a kind: its plural resource name (the path segment) and whether it is namespaced."""

    plural: str
    namespaced: bool


#: (apiVersion, kind) -> the resource, for the built-in kinds (others are asked of the API server, once)
_KNOWN_RESOURCES: dict[tuple[str, str], _Resource] = {
    ('v1', 'Pod'): _Resource('pods', True),
    ('v1', 'Service'): _Resource('services', True),
    ('v1', 'ConfigMap'): _Resource('configmaps', True),
    ('v1', 'Secret'): _Resource('secrets', True),
    ('v1', 'ServiceAccount'): _Resource('serviceaccounts', True),
    ('v1', 'PersistentVolumeClaim'): _Resource('persistentvolumeclaims', True),
    ('v1', 'Endpoints'): _Resource('endpoints', True),
    ('v1', 'LimitRange'): _Resource('limitranges', True),
    ('v1', 'ResourceQuota'): _Resource('resourcequotas', True),
    ('v1', 'ReplicationController'): _Resource('replicationcontrollers', True),
    ('v1', 'Namespace'): _Resource('namespaces', False),
    ('v1', 'PersistentVolume'): _Resource('persistentvolumes', False),
    ('v1', 'Node'): _Resource('nodes', False),
    ('apps/v1', 'Deployment'): _Resource('deployments', True),
    ('apps/v1', 'StatefulSet'): _Resource('statefulsets', True),
    ('apps/v1', 'DaemonSet'): _Resource('daemonsets', True),
    ('apps/v1', 'ReplicaSet'): _Resource('replicasets', True),
    ('batch/v1', 'Job'): _Resource('jobs', True),
    ('batch/v1', 'CronJob'): _Resource('cronjobs', True),
    ('networking.k8s.io/v1', 'Ingress'): _Resource('ingresses', True),
    ('networking.k8s.io/v1', 'NetworkPolicy'): _Resource('networkpolicies', True),
    ('networking.k8s.io/v1', 'IngressClass'): _Resource('ingressclasses', False),
    ('policy/v1', 'PodDisruptionBudget'): _Resource('poddisruptionbudgets', True),
    ('autoscaling/v1', 'HorizontalPodAutoscaler'): _Resource('horizontalpodautoscalers', True),
    ('autoscaling/v2', 'HorizontalPodAutoscaler'): _Resource('horizontalpodautoscalers', True),
    ('rbac.authorization.k8s.io/v1', 'Role'): _Resource('roles', True),
    ('rbac.authorization.k8s.io/v1', 'RoleBinding'): _Resource('rolebindings', True),
    ('rbac.authorization.k8s.io/v1', 'ClusterRole'): _Resource('clusterroles', False),
    ('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding'): _Resource('clusterrolebindings', False),
    ('storage.k8s.io/v1', 'StorageClass'): _Resource('storageclasses', False),
    ('apiextensions.k8s.io/v1', 'CustomResourceDefinition'): _Resource('customresourcedefinitions', False),
}
_discovered_resources: dict[tuple[str, str], _Resource] = {}


def as_dict(obj: Any, api_client: Any) -> dict[str, Any]:
    """Return a deep copy of a manifest as a dict (client objects serialized with camelCase keys).

    Raises TypeError when ``obj`` is neither a mapping nor a client model.
    """
    if isinstance(obj, Mapping):
        return copy.deepcopy(dict(obj))
    data = api_client.sanitize_for_serialization(obj)
    if not isinstance(data, dict):
        raise TypeError(f'expected a Kubernetes object (dict or client model), not {type(obj).__name__}')
    return data


def _resource_info(api_client: Any, api_version: str, kind: str) -> _Resource:
    """Return (plural, namespaced) for a kind, from the built-in table or the API server's discovery."""
    key = (api_version, kind)
    info = _KNOWN_RESOURCES.get(key) or _discovered_resources.get(key)
    if info is not None:
        return info
    try:
        listing = request(api_client, 'GET', _api_prefix(api_version))
    except Exception as exc:
        if is_not_found(exc):
            raise ValueError(
                f'unknown kind {kind!r}: the API server does not serve apiVersion {api_version!r}'
            ) from exc
        raise
    for resource in (listing or {}).get('resources') or []:
        if resource.get('kind') == kind and '/' not in str(resource.get('name', '/')):
            info = _Resource(str(resource['name']), bool(resource.get('namespaced')))
            _discovered_resources[key] = info
            return info
    raise ValueError(f'unknown kind {kind!r}: apiVersion {api_version!r} on the API server has no such resource')


def _api_prefix(api_version: str) -> str:
    return '/api/v1' if api_version == 'v1' else f'/apis/{api_version}'


def _object_path(api_client: Any, body: Mapping[str, Any], *, collection: bool = False) -> str:
    api_version, kind = body.get('apiVersion'), body.get('kind')
    if not api_version or not kind:
        raise ValueError(
            f'object {read_field(body.get("metadata"), "name")!r} needs both apiVersion and kind '
            f'(got apiVersion={api_version!r}, kind={kind!r})'
        )
    plural, namespaced = _resource_info(api_client, str(api_version), str(kind))
    path = _api_prefix(str(api_version))
    if namespaced:
        path += '/namespaces/' + quote(namespace_or_default(body), safe='')
    path += '/' + plural
    if not collection:
        path += '/' + quote(required_name(body), safe='')
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
    client = get_api_client(api_client)
    if isinstance(obj, (list, tuple)):
        return [apply_yaml_object(item, verb, api_client=client, field_manager=field_manager, force=force)
                for item in obj]
    body = as_dict(obj, client)
    path = _object_path(client, body)
    if verb == 'get':
        return request(client, 'GET', path)
    if verb == 'apply':
        metadata = body.get('metadata')
        if isinstance(metadata, dict):
            metadata.pop('managedFields', None)
        query = {'fieldManager': field_manager}
        if force:
            query['force'] = 'true'
        return request(client, 'PATCH', path, query=query, body=body, content_type='application/apply-patch+yaml')
    try:
        current = request(client, 'GET', path)
    except Exception as exc:
        if is_not_found(exc):
            return request(client, 'POST', _object_path(client, body, collection=True), body=body)
        raise
    metadata = body.setdefault('metadata', {})
    if not metadata.get('resourceVersion'):
        live_version = ((current or {}).get('metadata') or {}).get('resourceVersion')
        if live_version:
            metadata['resourceVersion'] = live_version
    return request(client, 'PUT', path, body=body)
