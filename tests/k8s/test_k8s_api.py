"""Tests of the API-touching Kubernetes helpers against a fake API server on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.importorskip('kubernetes')

from kubernetes.client import ApiClient, V1Container, V1ObjectMeta, V1Pod, V1PodSpec  # noqa: E402
from kubernetes.client.exceptions import ApiException  # noqa: E402

from scitrera_app_framework.k8s import util as k8s_util  # noqa: E402
from scitrera_app_framework.k8s.util import (  # noqa: E402
    KubeConfigError,
    apply_yaml_object,
    is_pod_in_terminated_state,
    is_pod_running,
    parse_yaml,
    pod_exists,
    start_pod,
)

if TYPE_CHECKING:
    from conftest import FakeKubeAPI

POD_PATH = '/api/v1/namespaces/default/pods/worker'


def _pod(name: str = 'worker', **meta: Any) -> dict[str, Any]:
    return {'apiVersion': 'v1', 'kind': 'Pod', 'metadata': {'name': name, **meta},
            'spec': {'containers': [{'name': 'main', 'image': 'busybox'}]}}


def _config_map(data: dict[str, str], namespace: str = 'default') -> dict[str, Any]:
    return {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {'name': 'settings', 'namespace': namespace},
            'data': data}


# ---------------------------------------------------------------------------------------------------------------------
# apply_yaml_object


def test_apply_is_server_side_apply(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    result = apply_yaml_object(_config_map({'a': '1'}), api_client=api_client)
    assert result['data'] == {'a': '1'}
    assert result['metadata']['resourceVersion']
    (request,) = fake_api.calls('PATCH')
    assert request.path == '/api/v1/namespaces/default/configmaps/settings'
    assert request.headers['content-type'] == 'application/apply-patch+yaml'
    assert request.query == {'fieldManager': 'scitrera-app-framework', 'force': 'true'}
    assert request.headers['authorization'] == 'Bearer explicit-token'
    assert request.body['kind'] == 'ConfigMap'

    apply_yaml_object(_config_map({'a': '2', 'b': '3'}), 'apply', api_client=api_client)
    assert fake_api.objects[request.path]['data'] == {'a': '2', 'b': '3'}


def test_apply_options_and_managed_fields(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    obj = _config_map({'a': '1'})
    obj['metadata']['managedFields'] = [{'manager': 'kubectl'}]
    apply_yaml_object(obj, api_client=api_client, field_manager='my-operator', force=False)
    (request,) = fake_api.calls('PATCH')
    assert request.query == {'fieldManager': 'my-operator'}
    assert 'managedFields' not in request.body['metadata']
    assert obj['metadata']['managedFields'] == [{'manager': 'kubectl'}]  # the caller's object is untouched


def test_get_reads_the_object(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    apply_yaml_object(_config_map({'k': 'v'}, namespace='team'), api_client=api_client)
    got = apply_yaml_object(_config_map({}, namespace='team'), 'get', api_client=api_client)
    assert got['data'] == {'k': 'v'}
    assert fake_api.calls('GET')[-1].path == '/api/v1/namespaces/team/configmaps/settings'


def test_get_missing_raises_api_exception(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    with pytest.raises(ApiException) as info:
        apply_yaml_object(_config_map({}), 'get', api_client=api_client)
    assert info.value.status == 404
    assert 'settings' in str(info.value)


def test_replace_creates_then_replaces(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    created = apply_yaml_object(_config_map({'v': '1'}), 'replace', api_client=api_client)
    assert created['data'] == {'v': '1'}
    assert [r.method for r in fake_api.requests] == ['GET', 'POST']
    assert fake_api.requests[1].path == '/api/v1/namespaces/default/configmaps'

    replaced = apply_yaml_object(_config_map({'w': '2'}), 'replace', api_client=api_client)
    assert replaced['data'] == {'w': '2'}  # PUT replaces the whole object
    put = fake_api.calls('PUT')[-1]
    assert put.path == '/api/v1/namespaces/default/configmaps/settings'
    assert put.body['metadata']['resourceVersion'] == created['metadata']['resourceVersion']


def test_apps_v1_kinds_use_their_group_path(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    template = {'metadata': {'labels': {'app': 'web'}}, 'spec': {'containers': [{'name': 'web', 'image': 'nginx'}]}}
    for kind, plural in (('Deployment', 'deployments'), ('StatefulSet', 'statefulsets')):
        obj = {'apiVersion': 'apps/v1', 'kind': kind, 'metadata': {'name': 'web', 'namespace': 'prod'},
               'spec': {'replicas': 2, 'template': template}}
        apply_yaml_object(obj, api_client=api_client)
        assert fake_api.requests[-1].path == f'/apis/apps/v1/namespaces/prod/{plural}/web'


def test_core_kinds_and_cluster_scoped(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    docs = parse_yaml(
        'apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n---\n'
        'apiVersion: v1\nkind: Secret\nmetadata: {name: creds, namespace: team}\nstringData: {k: v}\n---\n'
        'apiVersion: v1\nkind: Service\nmetadata: {name: svc, namespace: team}\nspec: {clusterIP: None}\n'
    )
    results = apply_yaml_object(docs, api_client=api_client)
    assert [r['kind'] for r in results] == ['Namespace', 'Secret', 'Service']
    assert [r.path for r in fake_api.requests] == [
        '/api/v1/namespaces/team',
        '/api/v1/namespaces/team/secrets/creds',
        '/api/v1/namespaces/team/services/svc',
    ]


def test_client_object_is_serialized(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    pod = V1Pod(api_version='v1', kind='Pod', metadata=V1ObjectMeta(name='obj-pod'),
                spec=V1PodSpec(containers=[V1Container(name='main', image='busybox', image_pull_policy='Always')]))
    apply_yaml_object(pod, api_client=api_client)
    (request,) = fake_api.calls('PATCH')
    assert request.path == '/api/v1/namespaces/default/pods/obj-pod'
    assert request.body['spec']['containers'][0]['imagePullPolicy'] == 'Always'


def test_other_kinds_use_discovery(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.discovery['/apis/example.com/v1'] = {
        'kind': 'APIResourceList', 'groupVersion': 'example.com/v1',
        'resources': [{'name': 'widgets/status', 'kind': 'Widget', 'namespaced': True},
                      {'name': 'widgets', 'kind': 'Widget', 'namespaced': True},
                      {'name': 'gadgets', 'kind': 'Gadget', 'namespaced': False}],
    }
    widget = {'apiVersion': 'example.com/v1', 'kind': 'Widget', 'metadata': {'name': 'w1'}, 'spec': {'size': 3}}
    assert apply_yaml_object(widget, api_client=api_client)['spec'] == {'size': 3}
    assert fake_api.requests[-1].path == '/apis/example.com/v1/namespaces/default/widgets/w1'
    gadget = {'apiVersion': 'example.com/v1', 'kind': 'Gadget', 'metadata': {'name': 'g1'}}
    apply_yaml_object(gadget, api_client=api_client)
    assert fake_api.requests[-1].path == '/apis/example.com/v1/gadgets/g1'


def test_unknown_kind_is_a_clear_error(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.discovery['/apis/example.com/v1'] = {'resources': [{'name': 'widgets', 'kind': 'Widget'}]}
    with pytest.raises(ValueError, match="'Sprocket'.*'example.com/v1'"):
        apply_yaml_object({'apiVersion': 'example.com/v1', 'kind': 'Sprocket', 'metadata': {'name': 's'}},
                          api_client=api_client)
    with pytest.raises(ValueError, match="'Thing'.*'nowhere.io/v9'"):
        apply_yaml_object({'apiVersion': 'nowhere.io/v9', 'kind': 'Thing', 'metadata': {'name': 't'}},
                          api_client=api_client)


def test_invalid_arguments(api_client: ApiClient) -> None:
    with pytest.raises(ValueError, match="'delete'.*apply, get, replace"):
        apply_yaml_object(_config_map({}), 'delete', api_client=api_client)
    with pytest.raises(ValueError, match='apiVersion and kind'):
        apply_yaml_object({'metadata': {'name': 'x'}}, api_client=api_client)
    with pytest.raises(ValueError, match='metadata.name'):
        apply_yaml_object({'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': {}}, api_client=api_client)


def test_server_errors_surface_as_api_exception(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.fail_next = 500
    with pytest.raises(ApiException) as info:
        apply_yaml_object(_config_map({}), api_client=api_client)
    assert info.value.status == 500
    assert 'injected failure' in info.value.body


# ---------------------------------------------------------------------------------------------------------------------
# pods


def test_pod_exists(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    assert pod_exists(_pod(), api_client=api_client) is False
    fake_api.put_pod('worker')
    assert pod_exists(_pod(), api_client=api_client) is True
    assert pod_exists(_pod(namespace='elsewhere'), api_client=api_client) is False
    assert fake_api.requests[-1].path == '/api/v1/namespaces/elsewhere/pods/worker'


@pytest.mark.parametrize(
    ('phase', 'lenient', 'strict', 'terminated'),
    [
        ('Pending', True, False, False),
        ('Running', True, True, False),
        ('Succeeded', False, False, True),
        ('Failed', False, False, True),
        ('Unknown', False, False, False),
    ],
)
def test_pod_state_checks(fake_api: FakeKubeAPI, api_client: ApiClient, phase: str, lenient: bool, strict: bool,
                          terminated: bool) -> None:
    fake_api.put_pod('worker', phase)
    assert is_pod_running(_pod(), api_client=api_client) is lenient
    assert is_pod_running(_pod(), strict=True, api_client=api_client) is strict
    assert is_pod_in_terminated_state(_pod(), api_client=api_client) is terminated


def test_pod_state_checks_of_missing_pod(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    assert is_pod_running(_pod(), api_client=api_client) is False
    assert is_pod_running(_pod(), strict=True, api_client=api_client) is False
    assert is_pod_in_terminated_state(_pod(), api_client=api_client) is False


def test_start_pod_waits_until_running(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Pending', 'Pending', 'Pending', 'Running']
    pod = start_pod(_pod(), wait_delay=0.01, api_client=api_client)
    assert pod['status']['phase'] == 'Running'
    assert fake_api.calls('POST')[0].path == '/api/v1/namespaces/default/pods'
    assert len(fake_api.calls('GET')) == 3  # Pending, Pending, Running
    assert is_pod_running(_pod(), strict=True, api_client=api_client)


def test_start_pod_stops_waiting_when_pod_already_finished(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Pending', 'Succeeded']
    assert start_pod(_pod(), wait_delay=0.01, api_client=api_client)['status']['phase'] == 'Succeeded'


def test_start_pod_without_wait(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    created = start_pod(_pod(), wait=False, api_client=api_client)
    assert created['status']['phase'] == 'Pending'
    assert fake_api.calls('GET') == []
    assert created['kind'] == 'Pod'


def test_start_pod_defaults_kind_and_accepts_client_objects(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    start_pod({'metadata': {'name': 'plain'}, 'spec': {'containers': []}}, wait=False, api_client=api_client)
    assert fake_api.calls('POST')[-1].body['kind'] == 'Pod'
    pod = V1Pod(metadata=V1ObjectMeta(name='typed', namespace='ns1'),
                spec=V1PodSpec(containers=[V1Container(name='c', image='i')]))
    start_pod(pod, wait=False, api_client=api_client)
    assert fake_api.calls('POST')[-1].path == '/api/v1/namespaces/ns1/pods'
    with pytest.raises(ValueError, match='v1 Pod'):
        start_pod({'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': {'name': 'd'}}, api_client=api_client)


def test_start_pod_wait_until_terminated(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Pending', 'Running', 'Running', 'Failed']
    pod = start_pod(_pod(), wait_delay=0.01, wait_until_terminated=True, api_client=api_client)
    assert pod['status']['phase'] == 'Failed'
    assert is_pod_in_terminated_state(_pod(), api_client=api_client)


def test_start_pod_timeout_names_the_pod(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Pending']
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"default/worker did not reach phase Running within 0.3s.*'Pending'"):
        start_pod(_pod(), wait_delay=0.02, timeout=0.3, api_client=api_client)
    assert 0.25 <= time.monotonic() - started < 3
    with pytest.raises(TimeoutError, match='terminate'):
        start_pod(_pod(), replace=True, wait_delay=0.02, wait_until_terminated=True, timeout=0.1,
                  api_client=api_client)


def test_start_pod_existing_pod_conflicts_without_replace(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.put_pod('worker')
    with pytest.raises(ApiException) as info:
        start_pod(_pod(), api_client=api_client)
    assert info.value.status == 409


def test_start_pod_replace_deletes_and_waits_for_removal(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.put_pod('worker', 'Succeeded')
    fake_api.delete_lingers['worker'] = 2  # still visible for two GETs after the DELETE
    fake_api.pod_phases['worker'] = ['Running']
    pod = start_pod(_pod(), replace=True, wait_delay=0.01, api_client=api_client)
    assert pod['status']['phase'] == 'Running'
    methods = [r.method for r in fake_api.requests]
    assert methods[:2] == ['GET', 'DELETE']
    assert methods.index('POST') > methods.index('DELETE') + 2  # waited until the old pod was gone
    assert fake_api.requests[methods.index('POST') - 1].method == 'GET'


def test_start_pod_replace_when_absent_just_creates(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Running']
    start_pod(_pod(), replace=True, wait_delay=0.01, api_client=api_client)
    assert 'DELETE' not in [r.method for r in fake_api.requests]


def test_start_pod_pod_deleted_while_waiting(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    fake_api.pod_phases['worker'] = ['Pending']
    remover = threading.Timer(0.1, lambda: fake_api.objects.pop(POD_PATH, None))
    remover.start()
    try:
        with pytest.raises(LookupError, match='default/worker disappeared'):
            start_pod(_pod(), wait_delay=0.01, timeout=5, api_client=api_client)
    finally:
        remover.cancel()


def test_start_pod_argument_checks(api_client: ApiClient) -> None:
    with pytest.raises(ValueError, match='wait_delay'):
        start_pod(_pod(), wait_delay=-1, api_client=api_client)
    with pytest.raises(ValueError, match='timeout'):
        start_pod(_pod(), timeout=-1, api_client=api_client)


# ---------------------------------------------------------------------------------------------------------------------
# choosing the client


def test_default_client_comes_from_kubeconfig(fake_api: FakeKubeAPI, kubeconfig: Path) -> None:
    fake_api.put_pod('worker')
    assert pod_exists(_pod()) is True
    assert fake_api.requests[-1].headers['authorization'] == 'Bearer kubeconfig-token'
    # the loaded client is cached: a broken kubeconfig afterwards does not matter
    kubeconfig.write_text('not: [valid')
    assert is_pod_running(_pod(), strict=True) is True


def test_set_api_client(fake_api: FakeKubeAPI, api_client: ApiClient) -> None:
    assert k8s_util.set_api_client(api_client) is None
    fake_api.put_pod('worker')
    assert pod_exists(_pod()) is True
    assert fake_api.requests[-1].headers['authorization'] == 'Bearer explicit-token'
    assert k8s_util.set_api_client(None) is api_client


def test_missing_configuration_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / 'no-such-kubeconfig'
    monkeypatch.setenv('KUBECONFIG', str(missing))
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.delenv('KUBERNETES_SERVICE_HOST', raising=False)
    monkeypatch.delenv('KUBERNETES_SERVICE_PORT', raising=False)
    with pytest.raises(KubeConfigError) as info:
        pod_exists(_pod())
    message = str(info.value)
    assert str(missing) in message
    assert 'in-cluster' in message
    assert 'api_client=' in message


def test_without_kubernetes_package_api_helpers_raise_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__('sys').modules, 'kubernetes', None)
    for call in (lambda: pod_exists(_pod()), lambda: apply_yaml_object(_config_map({}))):
        with pytest.raises(ImportError, match=r"pip install 'scitrera-app-framework\[k8s\]'"):
            call()
