"""Importing the Kubernetes helpers must not import ``kubernetes`` nor read a kube config (checked in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

IMPORT_CHECK = textwrap.dedent(
    """
    import os, sys

    opened = []

    def audit(event, args):
        if event == 'open' and args and isinstance(args[0], (str, bytes)):
            opened.append(os.fsdecode(args[0]))

    sys.addaudithook(audit)
    if os.environ.get('BLOCK_KUBERNETES'):
        sys.modules['kubernetes'] = None  # behave as if the package were not installed

    import scitrera_app_framework.k8s.util as k8s_util

    assert 'kubernetes' not in sys.modules or sys.modules['kubernetes'] is None, 'kubernetes imported'

    # the pure helpers work without the client, too
    pod = k8s_util.parse_yaml('kind: Pod\\nmetadata: {name: p}\\nspec: {containers: [{name: c}]}\\n')
    k8s_util.merge_env_vars(k8s_util.get_pod_env(pod), A=True)
    assert pod['spec']['containers'][0]['env'] == [{'name': 'A', 'value': 'True'}]
    assert k8s_util.get_headless_service_dns_name_for_pod(pod, {'metadata': {'name': 's'}}) == 'p.s.default.svc'
    assert 'kubernetes' not in sys.modules or sys.modules['kubernetes'] is None, 'kubernetes imported by helpers'

    kube_reads = [p for p in opened if '.kube' in p or p == os.environ['KUBECONFIG']]
    assert not kube_reads, kube_reads

    if os.environ.get('BLOCK_KUBERNETES'):
        try:
            k8s_util.pod_exists(pod)
        except ImportError as exc:
            assert "pip install 'scitrera-app-framework[k8s]'" in str(exc), str(exc)
        else:
            raise AssertionError('pod_exists() worked without the kubernetes package')
    print('IMPORT-OK')
    """
)


def _run(tmp_path: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    kube_dir = tmp_path / '.kube'
    kube_dir.mkdir(exist_ok=True)
    (kube_dir / 'config').write_text('this: is not read\n')
    kubeconfig = tmp_path / 'kubeconfig'
    kubeconfig.write_text('neither: is this\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith('KUBERNETES_')}
    env.update(
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_ROOT), env.get('PYTHONPATH', '')])),
        HOME=str(tmp_path),
        KUBECONFIG=str(kubeconfig),
        **extra_env,
    )
    return subprocess.run([sys.executable, '-c', IMPORT_CHECK], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)


def test_import_does_not_load_kubernetes_or_kube_config(tmp_path: Path) -> None:
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'IMPORT-OK' in result.stdout


def test_import_and_helpers_work_without_kubernetes_package(tmp_path: Path) -> None:
    result = _run(tmp_path, BLOCK_KUBERNETES='1')
    assert result.returncode == 0, result.stderr
    assert 'IMPORT-OK' in result.stdout
