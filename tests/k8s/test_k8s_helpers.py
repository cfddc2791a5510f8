"""Tests of the pure Kubernetes helpers (no API server involved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scitrera_app_framework.k8s.util import (
    YAMLParseError,
    fixed_env_vars,
    get_headless_service_dns_name_for_pod,
    get_metadata_name,
    get_metadata_namespace,
    get_pod_env,
    merge_env_vars,
    parse_yaml,
)


def _pod(**extra_meta: Any) -> dict[str, Any]:
    return {
        'apiVersion': 'v1',
        'kind': 'Pod',
        'metadata': {'name': 'web-0', **extra_meta},
        'spec': {
            'initContainers': [{'name': 'setup', 'image': 'busybox'}],
            'containers': [
                {'name': 'app', 'image': 'app:1', 'env': [{'name': 'MODE', 'value': 'prod'}]},
                {'name': 'sidecar', 'image': 'proxy:1'},
            ],
        },
    }


# ---------------------------------------------------------------------------------------------------------------------
# merge_env_vars / fixed_env_vars


def test_merge_env_vars_appends_and_replaces_in_place() -> None:
    env = [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': '2'}, {'name': 'C', 'value': '3'}]
    result = merge_env_vars(env, b='new', d=4)
    assert result is env
    assert env == [{'name': 'A', 'value': '1'}, {'name': 'B', 'value': 'new'}, {'name': 'C', 'value': '3'},
                   {'name': 'D', 'value': '4'}]


def test_merge_env_vars_replacement_removes_duplicates() -> None:
    env = [{'name': 'X', 'value': '1'}, {'name': 'Y', 'value': '2'}, {'name': 'X', 'value': '3'}]
    merge_env_vars(env, X='final')
    assert env == [{'name': 'X', 'value': 'final'}, {'name': 'Y', 'value': '2'}]


def test_merge_env_vars_complex_items() -> None:
    secret_ref = {'name': 'DB_PASSWORD', 'valueFrom': {'secretKeyRef': {'name': 'db', 'key': 'password'}}}
    field_ref = {'name': 'POD_IP', 'valueFrom': {'fieldRef': {'fieldPath': 'status.podIP'}}}
    env = [{'name': 'DB_PASSWORD', 'value': 'plain-text'}]
    merge_env_vars(env, secret_ref, field_ref, {'name': 'PLAIN', 'value': 7})
    assert env[0] == secret_ref
    assert env[1] == field_ref
    assert env[2] == {'name': 'PLAIN', 'value': '7'}
    # items are copied, so later edits of the caller's dicts do not leak into the env list
    secret_ref['valueFrom'] = None
    assert env[0]['valueFrom'] == {'secretKeyRef': {'name': 'db', 'key': 'password'}}


def test_merge_env_vars_complex_item_replaces_plain_value_and_back() -> None:
    env = [{'name': 'CFG', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'cfg'}}}]
    merge_env_vars(env, CFG='inline')
    assert env == [{'name': 'CFG', 'value': 'inline'}]


def test_merge_env_vars_key_upper() -> None:
    env: list[Any] = []
    merge_env_vars(env, image_tag='v1')
    merge_env_vars(env, log_level='debug', key_upper=False)
    merge_env_vars(env, {'name': 'lower_kept', 'value': 'x'})
    assert [e['name'] for e in env] == ['IMAGE_TAG', 'log_level', 'lower_kept']


def test_merge_env_vars_value_stringification() -> None:
    # fixed pairs are written as str(value), exactly like fixed_env_vars
    env = merge_env_vars([], on=True, off=False, count=3, ratio=0.5, nothing=None, text='hi')
    assert {e['name']: e['value'] for e in env} == {
        'ON': 'True', 'OFF': 'False', 'COUNT': '3', 'RATIO': '0.5', 'NOTHING': 'None', 'TEXT': 'hi'
    }
    # a complex item's non-string value is made a string too (the API server only accepts strings)
    env = merge_env_vars([], {'name': 'FLAG', 'value': True}, {'name': 'EMPTY', 'value': None})
    assert env == [{'name': 'FLAG', 'value': 'True'}, {'name': 'EMPTY', 'value': None}]


def test_merge_env_vars_seed_example() -> None:
    pod = _pod()
    env = get_pod_env(pod)
    merge_env_vars(env, {'name': 'CONFIG_PATH', 'valueFrom': {'configMapKeyRef': {'name': 'my-cm', 'key': 'cfg'}}},
                   IMAGE_TAG='v1.2.3', DEBUG=True)
    assert pod['spec']['containers'][0]['env'] == [
        {'name': 'MODE', 'value': 'prod'},
        {'name': 'CONFIG_PATH', 'valueFrom': {'configMapKeyRef': {'name': 'my-cm', 'key': 'cfg'}}},
        {'name': 'IMAGE_TAG', 'value': 'v1.2.3'},
        {'name': 'DEBUG', 'value': 'True'},
    ]


@pytest.mark.parametrize('item', [{'value': 'x'}, {'name': ''}, {'name': 3}])
def test_merge_env_vars_rejects_items_without_name(item: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match='name'):
        merge_env_vars([], item)


def test_merge_env_vars_rejects_value_and_value_from() -> None:
    with pytest.raises(ValueError, match="'BOTH'.*valueFrom"):
        merge_env_vars([], {'name': 'BOTH', 'value': '1', 'valueFrom': {'fieldRef': {'fieldPath': 'x'}}})


def test_merge_env_vars_type_errors() -> None:
    with pytest.raises(TypeError, match='list'):
        merge_env_vars(({'name': 'A', 'value': '1'},), B=2)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match='mapping'):
        merge_env_vars([], 'A=1')


def test_merge_env_vars_none_starts_from_an_empty_list() -> None:
    env = merge_env_vars(None, {'name': 'CFG', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'k'}}},
                         image_tag='v1', DEBUG=True)
    assert env == [
        {'name': 'CFG', 'valueFrom': {'configMapKeyRef': {'name': 'cm', 'key': 'k'}}},
        {'name': 'IMAGE_TAG', 'value': 'v1'},
        {'name': 'DEBUG', 'value': 'True'},
    ]
    assert merge_env_vars(None) == []
    assert merge_env_vars(None, log_level='debug', key_upper=False) == [{'name': 'log_level', 'value': 'debug'}]


def test_merge_env_vars_with_client_objects() -> None:
    client = pytest.importorskip('kubernetes.client')
    env = [client.V1EnvVar(name='A', value='1'), client.V1EnvVar(name='B', value='2')]
    merge_env_vars(env, client.V1EnvVar(name='C', value='3'), A='one')
    assert env[0] == {'name': 'A', 'value': 'one'}
    assert env[1].name == 'B'
    assert env[2].name == 'C'


def test_fixed_env_vars_upper_cases_names_and_writes_str_values() -> None:
    assert fixed_env_vars(IMAGE_TAG='v1', debug=True, port=8080, ratio=0.5, empty=None) == [
        {'name': 'IMAGE_TAG', 'value': 'v1'},
        {'name': 'DEBUG', 'value': 'True'},
        {'name': 'PORT', 'value': '8080'},
        {'name': 'RATIO', 'value': '0.5'},
        {'name': 'EMPTY', 'value': 'None'},
    ]
    assert fixed_env_vars(DEBUG=True) == [{'name': 'DEBUG', 'value': 'True'}]
    assert fixed_env_vars() == []


def test_fixed_env_vars_key_upper_false_keeps_case_and_is_never_a_variable() -> None:
    assert fixed_env_vars(key_upper=False, debug=False, Mixed_Case='x') == [
        {'name': 'debug', 'value': 'False'},
        {'name': 'Mixed_Case', 'value': 'x'},
    ]
    assert fixed_env_vars(key_upper=True) == []
    assert fixed_env_vars(key_upper=False) == []
    names = [e['name'] for e in fixed_env_vars(True, a=1)]  # positional key_upper, too
    assert names == ['A']


def test_fixed_env_vars_merge_as_complex_items() -> None:
    env = [{'name': 'A', 'value': 'old'}]
    merge_env_vars(env, *fixed_env_vars(A='new', b=False))
    assert env == [{'name': 'A', 'value': 'new'}, {'name': 'B', 'value': 'False'}]


# ---------------------------------------------------------------------------------------------------------------------
# get_pod_env


def test_get_pod_env_default_is_first_container_and_is_a_reference() -> None:
    pod = _pod()
    env = get_pod_env(pod)
    assert env == [{'name': 'MODE', 'value': 'prod'}]
    env.append({'name': 'NEW', 'value': 'x'})
    assert pod['spec']['containers'][0]['env'][-1] == {'name': 'NEW', 'value': 'x'}


def test_get_pod_env_by_name_creates_missing_list() -> None:
    pod = _pod()
    env = get_pod_env(pod, container_name='sidecar')
    assert env == []
    assert pod['spec']['containers'][1]['env'] is env
    merge_env_vars(env, PROXY_PORT=15001)
    assert pod['spec']['containers'][1]['env'] == [{'name': 'PROXY_PORT', 'value': '15001'}]


def test_get_pod_env_by_index_and_init_container_by_name() -> None:
    pod = _pod()
    assert get_pod_env(pod, container_index=1) is pod['spec']['containers'][1]['env']
    assert get_pod_env(pod, container_index=-1) is pod['spec']['containers'][1]['env']
    assert get_pod_env(pod, container_name='setup') is pod['spec']['initContainers'][0]['env']


def test_get_pod_env_missing_container_name() -> None:
    with pytest.raises(ValueError) as info:
        get_pod_env(_pod(), container_name='nope')
    message = str(info.value)
    assert "'nope'" in message and "'web-0'" in message
    assert "'app'" in message and "'sidecar'" in message  # lists what exists


def test_get_pod_env_index_out_of_range() -> None:
    with pytest.raises(IndexError, match="index 5 .*'web-0'.* 2 container"):
        get_pod_env(_pod(), container_index=5)


def test_get_pod_env_without_containers_is_none() -> None:
    assert get_pod_env(None) is None
    assert get_pod_env({}) is None
    assert get_pod_env({'spec': {}}) is None
    assert get_pod_env({'spec': None}) is None
    assert get_pod_env({'spec': {'containers': []}}) is None
    assert get_pod_env({'kind': 'Pod', 'metadata': {'name': 'empty'}, 'spec': {}}) is None
    assert get_pod_env({'kind': 'Pod', 'metadata': {'name': 'empty'}}, container_name='app') is None
    assert get_pod_env({'kind': 'Deployment', 'spec': {'template': {'spec': {}}}}) is None


def test_get_pod_env_without_containers_client_objects() -> None:
    client = pytest.importorskip('kubernetes.client')
    assert get_pod_env(client.V1Pod()) is None
    assert get_pod_env(client.V1Pod(metadata=client.V1ObjectMeta(name='p'))) is None


def test_get_pod_env_of_workload_templates() -> None:
    deployment = {'kind': 'Deployment', 'metadata': {'name': 'd'},
                  'spec': {'template': {'spec': {'containers': [{'name': 'c'}]}}}}
    get_pod_env(deployment).append({'name': 'A', 'value': '1'})
    assert deployment['spec']['template']['spec']['containers'][0]['env'] == [{'name': 'A', 'value': '1'}]
    cronjob = {'kind': 'CronJob', 'metadata': {'name': 'cj'},
               'spec': {'jobTemplate': {'spec': {'template': {'spec': {'containers': [{'name': 'job'}]}}}}}}
    assert get_pod_env(cronjob, container_name='job') == []


def test_get_pod_env_with_client_objects() -> None:
    client = pytest.importorskip('kubernetes.client')
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name='obj-pod'),
        spec=client.V1PodSpec(containers=[client.V1Container(name='a', image='i'),
                                          client.V1Container(name='b', image='i')]),
    )
    env = get_pod_env(pod, container_name='b')
    env.append(client.V1EnvVar(name='X', value='1'))
    assert [e.name for e in pod.spec.containers[1].env] == ['X']
    with pytest.raises(ValueError, match="'missing'"):
        get_pod_env(pod, container_name='missing')


# ---------------------------------------------------------------------------------------------------------------------
# metadata and DNS


def test_metadata_from_dicts() -> None:
    assert get_metadata_name(_pod()) == 'web-0'
    assert get_metadata_namespace(_pod(namespace='prod')) == 'prod'


def test_metadata_absent_fields_are_none() -> None:
    # no invented 'default' namespace and no exception for a missing name
    assert get_metadata_namespace(_pod()) is None
    assert get_metadata_namespace(_pod(namespace=None)) is None
    assert get_metadata_namespace({}) is None
    assert get_metadata_namespace({'metadata': None}) is None
    assert get_metadata_name({'kind': 'ConfigMap', 'metadata': {}}) is None
    assert get_metadata_name({}) is None
    assert get_metadata_name(None) is None
    assert get_metadata_namespace(None) is None


def test_metadata_from_client_objects() -> None:
    client = pytest.importorskip('kubernetes.client')
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name='obj', namespace='team-a'))
    assert get_metadata_name(pod) == 'obj'
    assert get_metadata_namespace(pod) == 'team-a'
    bare = client.V1Pod(metadata=client.V1ObjectMeta(name='bare'))
    assert get_metadata_namespace(bare) is None
    assert get_metadata_name(client.V1Pod()) is None
    assert get_metadata_namespace(client.V1Pod()) is None
    assert get_metadata_name(client.V1Pod(metadata=client.V1ObjectMeta())) is None


def test_headless_service_dns_name_still_requires_names() -> None:
    with pytest.raises(ValueError, match='Service object has no metadata.name'):
        get_headless_service_dns_name_for_pod(_pod(), {'kind': 'Service', 'metadata': {}})
    with pytest.raises(ValueError, match='Pod object has no metadata.name'):
        get_headless_service_dns_name_for_pod({'kind': 'Pod'}, {'metadata': {'name': 's'}})


def test_headless_service_dns_name() -> None:
    svc = {'kind': 'Service', 'metadata': {'name': 'db-headless'}}
    assert get_headless_service_dns_name_for_pod(_pod(), svc) == 'web-0.db-headless.default.svc'
    assert get_headless_service_dns_name_for_pod(_pod(namespace='prod'), svc) == 'web-0.db-headless.prod.svc'
    svc_prod = {'kind': 'Service', 'metadata': {'name': 'db-headless', 'namespace': 'prod'}}
    assert get_headless_service_dns_name_for_pod(_pod(), svc_prod) == 'web-0.db-headless.prod.svc'
    assert get_headless_service_dns_name_for_pod(_pod(namespace='prod'), svc_prod) == 'web-0.db-headless.prod.svc'


def test_headless_service_dns_name_uses_spec_hostname() -> None:
    pod = _pod()
    pod['spec']['hostname'] = 'replica-1'
    svc = {'metadata': {'name': 'svc'}}
    assert get_headless_service_dns_name_for_pod(pod, svc) == 'replica-1.svc.default.svc'


def test_headless_service_dns_name_namespace_mismatch() -> None:
    svc = {'kind': 'Service', 'metadata': {'name': 'db', 'namespace': 'b'}}
    with pytest.raises(ValueError, match="'a'.*'b'"):
        get_headless_service_dns_name_for_pod(_pod(namespace='a'), svc)


def test_headless_service_dns_name_from_client_objects() -> None:
    client = pytest.importorskip('kubernetes.client')
    pod = client.V1Pod(metadata=client.V1ObjectMeta(name='p-0', namespace='ns'))
    svc = client.V1Service(metadata=client.V1ObjectMeta(name='s', namespace='ns'))
    assert get_headless_service_dns_name_for_pod(pod, svc) == 'p-0.s.ns.svc'


# ---------------------------------------------------------------------------------------------------------------------
# parse_yaml


POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: demo
spec:
  containers:
    - name: main
      image: busybox
"""


def test_parse_yaml_text() -> None:
    pod = parse_yaml(POD_YAML)
    assert pod['metadata']['name'] == 'demo'
    assert get_pod_env(pod) == []
    assert parse_yaml('a: 1') == {'a': 1}
    assert parse_yaml(b'a: [1, 2]') == {'a': [1, 2]}


def test_parse_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / 'pod.yaml'
    path.write_text(POD_YAML)
    assert parse_yaml(str(path))['kind'] == 'Pod'
    assert parse_yaml(path)['kind'] == 'Pod'


def test_parse_yaml_multi_document(tmp_path: Path) -> None:
    text = POD_YAML + '---\napiVersion: v1\nkind: Service\nmetadata: {name: demo}\n---\n'
    docs = parse_yaml(text)
    assert isinstance(docs, list)
    assert [d['kind'] for d in docs] == ['Pod', 'Service']
    path = tmp_path / 'all.yml'
    path.write_text('---\n' + text)
    assert [d['kind'] for d in parse_yaml(path)] == ['Pod', 'Service']
    assert parse_yaml('---\na: 1\n---\n') == {'a': 1}  # a single real document is returned as itself


def test_parse_yaml_empty() -> None:
    assert parse_yaml('') is None
    assert parse_yaml('---\n') is None


def test_parse_yaml_malformed_file_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / 'broken.yaml'
    path.write_text('kind: Pod\nmetadata:\n  name: [unclosed\n  other: 1\nspec: {}\n')
    with pytest.raises(YAMLParseError) as info:
        parse_yaml(path)
    error = info.value
    assert isinstance(error, ValueError)
    assert str(path) in str(error)
    assert error.source == str(path)
    assert error.line == 4
    assert 'line 4' in str(error)
    assert error.__cause__ is not None


def test_parse_yaml_malformed_text() -> None:
    with pytest.raises(YAMLParseError, match=r'<text>, line 2, column \d+'):
        parse_yaml('a: 1\n b: 2\n')


def test_parse_yaml_rejects_python_tags(tmp_path: Path) -> None:
    marker = tmp_path / 'pwned'
    payload = f"!!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(YAMLParseError, match='python/object') as info:
        parse_yaml('ok: 1\nbad: ' + payload)
    assert info.value.line == 2
    assert not marker.exists()
    path = tmp_path / 'evil.yaml'
    path.write_text('x: !!python/object:collections.OrderedDict {}\n')
    with pytest.raises(YAMLParseError, match='evil.yaml, line 1'):
        parse_yaml(str(path))


def test_parse_yaml_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match='nope.yaml'):
        parse_yaml(str(tmp_path / 'nope.yaml'))
    with pytest.raises(FileNotFoundError):
        parse_yaml(tmp_path / 'nope.txt')


def test_parse_yaml_type_error() -> None:
    with pytest.raises(TypeError, match='int'):
        parse_yaml(3)  # type: ignore[arg-type]
