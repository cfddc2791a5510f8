"""``k8s.util`` is the one public surface of the Kubernetes helpers: it names everything, loads nothing heavy."""

from __future__ import annotations

import json
import subprocess
import sys

from scitrera_app_framework import exceptions
from scitrera_app_framework.k8s import util as k8s_util

PUBLIC = {
    'apply_yaml_object', 'parse_yaml', 'start_pod', 'is_pod_running', 'is_pod_in_terminated_state', 'pod_exists',
    'get_pod_env', 'merge_env_vars', 'fixed_env_vars', 'get_metadata_name', 'get_metadata_namespace',
    'get_headless_service_dns_name_for_pod', 'set_api_client', 'YAMLParseError', 'KubeConfigError',
    'FIELD_MANAGER', 'DEFAULT_NAMESPACE', 'DEFAULT_WAIT_TIMEOUT', 'REQUEST_TIMEOUT',
}


def test_all_names_the_public_helpers() -> None:
    assert set(k8s_util.__all__) == PUBLIC
    assert len(k8s_util.__all__) == len(PUBLIC)
    for name in PUBLIC:
        assert getattr(k8s_util, name) is not None, name


def test_errors_live_here_and_are_listed_in_exceptions() -> None:
    assert exceptions._WHERE['YAMLParseError'] == exceptions._WHERE['KubeConfigError'] == 'k8s.util'
    for cls, std in ((k8s_util.YAMLParseError, ValueError), (k8s_util.KubeConfigError, RuntimeError)):
        assert issubclass(cls, exceptions.SAFError) and issubclass(cls, std), cls


def test_constants_keep_their_values() -> None:
    assert k8s_util.FIELD_MANAGER == 'scitrera-app-framework'
    assert k8s_util.DEFAULT_NAMESPACE == 'default'
    assert k8s_util.DEFAULT_WAIT_TIMEOUT == 300.0
    assert k8s_util.REQUEST_TIMEOUT == 60.0


def test_import_loads_neither_yaml_nor_the_client() -> None:
    code = ('import sys, json; import scitrera_app_framework.k8s.util; '
            'print(json.dumps([m for m in ("yaml", "kubernetes", "urllib3") if m in sys.modules]))')
    proc = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []
