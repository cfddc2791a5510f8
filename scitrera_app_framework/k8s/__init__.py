"""Optional Kubernetes helpers; see :mod:`scitrera_app_framework.k8s.util`.

Nothing is imported here: the ``kubernetes`` client is loaded lazily by the helpers that talk to the API
(install it with ``pip install 'scitrera-app-framework[k8s]'``).
"""

__all__: list[str] = []  # the helpers live in k8s.util
