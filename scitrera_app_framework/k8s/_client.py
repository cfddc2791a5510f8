"""Which cluster the API helpers talk to: the lazily imported ``kubernetes`` package and the default ApiClient.

The client is, in order: the ``api_client=`` argument; the one installed with :func:`set_api_client`; one built
once, on first use, from the kube config (``$KUBECONFIG`` / ``~/.kube/config``) or the in-cluster service account
(tried first when ``KUBERNETES_SERVICE_HOST`` is set and ``KUBECONFIG`` is not). Nothing here runs at import time.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Optional

from ..exceptions import SAFError

_INSTALL_HINT = "pip install 'scitrera-app-framework[k8s]'"

_client_lock = threading.Lock()
_api_client: Any = None


class KubeConfigError(SAFError, RuntimeError):
    """Raised when no Kubernetes configuration (kube config file or in-cluster account) can be loaded."""


def require_kubernetes() -> Any:
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


def get_api_client(api_client: Any = None) -> Any:
    """Return the client to use: the argument, else the installed default, else one loaded from kube config.

    Raises ImportError without the kubernetes package and :class:`KubeConfigError` without a configuration.
    """
    require_kubernetes()
    if api_client is not None:
        return api_client
    global _api_client
    with _client_lock:
        if _api_client is None:
            _api_client = _load_default_client()
        return _api_client


def _load_default_client() -> Any:
    kubernetes = require_kubernetes()
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
