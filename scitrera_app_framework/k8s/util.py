"""Small helpers for Kubernetes manifests and Pods: the public surface of :mod:`scitrera_app_framework.k8s`.

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

Everything is defined in the package's private modules and re-exported here; import it from here:

- ``_yaml``: :func:`parse_yaml` and :class:`YAMLParseError`;
- ``_metadata``: field access on dicts and client objects, the metadata getters, the headless-service DNS name;
- ``_env``: container env lists (:func:`get_pod_env`, :func:`merge_env_vars`, :func:`fixed_env_vars`);
- ``_client``: the lazy ``kubernetes`` import, the default ``ApiClient`` (:func:`set_api_client`) and
  :class:`KubeConfigError`;
- ``_transport``: one HTTP request through the ``ApiClient``'s pool, API errors as ``ApiException``;
- ``_objects``: kind -> REST path mapping (built-in table, discovery) and :func:`apply_yaml_object`;
- ``_pods``: :func:`start_pod`, the Pod state checks and the bounded waiting.
"""

from __future__ import annotations

from ._client import KubeConfigError, set_api_client
from ._env import fixed_env_vars, get_pod_env, merge_env_vars
from ._metadata import (
    DEFAULT_NAMESPACE,
    get_headless_service_dns_name_for_pod,
    get_metadata_name,
    get_metadata_namespace,
)
from ._objects import FIELD_MANAGER, apply_yaml_object
from ._pods import DEFAULT_WAIT_TIMEOUT, is_pod_in_terminated_state, is_pod_running, pod_exists, start_pod
from ._transport import REQUEST_TIMEOUT
from ._yaml import YAMLParseError, parse_yaml

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
    'set_api_client',
    'YAMLParseError',
    'KubeConfigError',
    'FIELD_MANAGER',
    'DEFAULT_NAMESPACE',
    'DEFAULT_WAIT_TIMEOUT',
    'REQUEST_TIMEOUT',
]
