"""Reading manifests without an API server: fields of dicts and client objects, metadata, headless-service DNS.

Every helper here accepts a plain dict (loaded YAML) as well as an object of the official ``kubernetes`` client
(read through its snake_case attributes), and never imports the client.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Optional

#: namespace used when an object's metadata names none.
DEFAULT_NAMESPACE = 'default'


def read_field(obj: Any, key: str, attr: Optional[str] = None) -> Any:
    """Read ``key`` from a mapping, or attribute ``attr`` (default ``key``) from a client object."""
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(key)
    return getattr(obj, attr or key, None)


def write_field(obj: Any, key: str, value: Any, attr: Optional[str] = None) -> None:
    """Set ``key`` of a mutable mapping, or attribute ``attr`` (default ``key``) of a client object."""
    if isinstance(obj, MutableMapping):
        obj[key] = value
    else:
        setattr(obj, attr or key, value)


def kind_of(obj: Any) -> str:
    """Return the object's ``kind``, or its type's name when it has none."""
    return str(read_field(obj, 'kind') or type(obj).__name__)


def describe(obj: Any) -> str:
    """Return ``"<kind> '<name>'"`` (or just the kind without a name), for error messages."""
    name = read_field(read_field(obj, 'metadata'), 'name')
    return f'{kind_of(obj)} {name!r}' if name else kind_of(obj)


def get_metadata_name(obj: Any) -> Optional[str]:
    """Return ``metadata.name`` of a manifest dict or a kubernetes client object.

    Returns None when the object (or its metadata) has no name; never raises for a missing field.
    """
    name = read_field(read_field(obj, 'metadata'), 'name')
    return None if name is None else str(name)


def get_metadata_namespace(obj: Any) -> Optional[str]:
    """Return ``metadata.namespace`` of a manifest dict or a kubernetes client object.

    Returns None when the object (or its metadata) names no namespace; no default such as ``'default'`` is
    invented here (the API helpers use ``'default'`` for such objects, as ``kubectl`` does).
    """
    namespace = read_field(read_field(obj, 'metadata'), 'namespace')
    return None if namespace is None else str(namespace)


def required_name(obj: Any) -> str:
    """Return ``metadata.name`` as a string; raises ValueError naming the kind when it is missing or empty."""
    name = get_metadata_name(obj)
    if not name:
        raise ValueError(f'{kind_of(obj)} object has no metadata.name')
    return str(name)


def namespace_or_default(obj: Any) -> str:
    """Return ``metadata.namespace`` as a string, or :data:`DEFAULT_NAMESPACE` when it names none."""
    namespace = get_metadata_namespace(obj)
    return str(namespace) if namespace else DEFAULT_NAMESPACE


def get_headless_service_dns_name_for_pod(pod_def: Any, svc_def: Any) -> str:
    """Return ``<pod>.<service>.<namespace>.svc``, the DNS name of a Pod behind a headless Service.

    ``<pod>`` is the Pod's ``spec.hostname`` when set, else its name; the namespace is the Pod's, else the
    Service's, else ``'default'``. Raises ValueError when a name is missing or the two objects explicitly name
    different namespaces (the DNS record would not exist).
    """
    pod_ns = get_metadata_namespace(pod_def)
    svc_ns = get_metadata_namespace(svc_def)
    if pod_ns and svc_ns and pod_ns != svc_ns:
        raise ValueError(
            f'pod {required_name(pod_def)!r} is in namespace {pod_ns!r} but service '
            f'{required_name(svc_def)!r} is in {svc_ns!r}; a headless service only resolves its own namespace'
        )
    host = read_field(read_field(pod_def, 'spec'), 'hostname') or required_name(pod_def)
    namespace = pod_ns or svc_ns or DEFAULT_NAMESPACE
    return f'{host}.{required_name(svc_def)}.{namespace}.svc'
