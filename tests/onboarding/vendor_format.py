"""The vendor chart's values format, written down by us as test data.

`VENDOR_PATHS` lists every key path of the values file the vendor console downloads (agent 1.0
era, plus `agentTokenFile` and `sentinel` from the vendor's later docs) with the YAML types it
takes there. A path ending in `[]` walks into list items; "map" marks an open mapping (labels, a
security context, ...) whose own keys are the user's. "null" means the vendor writes ~ (not set)
by default and the other types are what a user may put there.

`VENDOR_LIKE_FILE` is a file in that format with the placeholders filled in, as a user would
after downloading it from the vendor console. `<api-url>` is replaced by the test.
"""

from typing import Any

STR, INT, BOOL, NULL, LIST, MAP = "str", "int", "bool", "null", "list", "map"

_PROBE = {
    "httpGet.path": {STR},
    "httpGet.port": {INT},
    "initialDelaySeconds": {INT},
    "periodSeconds": {INT},
    "failureThreshold": {INT},
    "successThreshold": {INT},
    "timeoutSeconds": {INT},
}
_AMOUNTS = {"cpu": {STR}, "ephemeral-storage": {STR}, "memory": {STR}}
_COMPONENT = {
    "image": {STR},
    **{f"resources.{kind}.{k}": t for kind in ("limits", "requests") for k, t in _AMOUNTS.items()},
    "env": {LIST},
    **{f"livenessProbe.{k}": t for k, t in _PROBE.items()},
    **{f"readinessProbe.{k}": t for k, t in _PROBE.items()},
    "podSecurityContext": {NULL, MAP},
    "containerSecurityContext": {MAP},
    "initContainers": {LIST},
    "extraContainers": {LIST},
    "volumes": {LIST},
    "volumeMounts": {LIST},
    "nodeSelector": {NULL, MAP},
}
_HPA = {
    "enabled": {BOOL},
    "minReplicaCount": {INT},
    "maxReplicaCount": {INT},
    "metric.enabled": {BOOL},
    "metric.name": {STR},
    "metric.target.type": {STR},
    "metric.target.Value": {INT},
    "extraMetrics": {LIST},
    "behavior.scaleUp.stabilizationWindowSeconds": {INT},
    "behavior.scaleUp.policies[].type": {STR},
    "behavior.scaleUp.policies[].value": {INT},
    "behavior.scaleUp.policies[].periodSeconds": {INT},
    "behavior.scaleDown.stabilizationWindowSeconds": {INT},
}
_SERVICE_ACCOUNT = {"create": {BOOL}, "name": {NULL, STR}, "annotations": {MAP}}

VENDOR_PATHS: dict[str, set[str]] = {
    "resourceNamePrefix": {STR},
    "createNamespace": {BOOL},
    "namespace": {STR},
    "astroDeploymentAPIURL": {STR},
    "imagePullSecretName": {NULL, STR},
    "imagePullSecretData": {NULL, STR},
    "agentTokenSecretName": {NULL, STR},
    "agentToken": {NULL, STR},
    "agentTokenFile": {NULL, STR},
    "secretBackend": {STR},
    "xcomBackend": {STR},
    "dagBundleConfigList": {STR},
    "commonEnv[].name": {STR},
    "commonEnv[].value": {STR, BOOL},
    "openLineage.enabled": {BOOL},
    "openLineage.apiKeySecret": {NULL, STR},
    "openLineage.apiKey": {NULL, STR},
    "openLineage.namespace": {NULL, STR},
    "openLineage.url": {NULL, STR},
    "logLevel": {STR},
    "labels": {MAP},
    "annotations": {MAP},
    "podSecurityContext": {MAP},
    "containerSecurityContext": {MAP},
    "serviceAccount.annotations": {MAP},
    **{
        f"serviceAccount.{c}.{k}": t
        for c in ("workers", "dagProcessor", "triggerer")
        for k, t in _SERVICE_ACCOUNT.items()
    },
    "loggingSidecar.enabled": {BOOL},
    "loggingSidecar.name": {STR},
    "loggingSidecar.image": {STR},
    "loggingSidecar.env": {LIST},
    "loggingSidecar.securityContext": {MAP},
    "loggingSidecar.volumeMounts": {LIST},
    "loggingSidecar.resources": {MAP},
    "loggingSidecar.config": {NULL, MAP, STR},
    "workers[].name": {STR},
    "workers[].queues": {STR},
    "workers[].replicas": {INT},
    "workers[].syncSlots": {INT},
    "workers[].terminationGracePeriodSeconds": {INT},
    **{f"workers[].hpa.{k}": t for k, t in _HPA.items()},
    **{f"workers[].{k}": t for k, t in _COMPONENT.items()},
    **{f"dagProcessor.{k}": t for k, t in _COMPONENT.items()},
    "triggerer.replicas": {INT},
    "triggerer.asyncSlots": {INT},
    **{f"triggerer.{k}": t for k, t in _COMPONENT.items()},
    "sentinel.enabled": {BOOL},
    "sentinel.image": {NULL, STR},
}
# Where the open mappings are, so that walking a file stops there.
OPEN_MAPS = {path for path, types in VENDOR_PATHS.items() if MAP in types}
# Keys the vendor's 1.0-era download does not write yet (they come from its later docs).
LATER_KEYS = {"agentTokenFile", "sentinel.enabled", "sentinel.image"}


def type_of(value: Any) -> str:
    if value is None:
        return NULL
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, str):
        return STR
    if isinstance(value, list):
        return LIST
    return MAP


def key_paths(values: Any, at: str = "") -> dict[str, set[str]]:
    """Every key path of a values file with the types found there, in VENDOR_PATHS' notation."""
    found: dict[str, set[str]] = {}
    if isinstance(values, dict) and at not in OPEN_MAPS and (values or not at):
        for key, value in values.items():
            for path, types in key_paths(value, f"{at}.{key}" if at else key).items():
                found.setdefault(path, set()).update(types)
    elif isinstance(values, list) and values and all(isinstance(v, dict) for v in values):
        for item in values:
            for path, types in key_paths(item, f"{at}[]").items():
                found.setdefault(path, set()).update(types)
    else:
        found[at] = {type_of(values)}
    return found


VENDOR_LIKE_FILE = """\
# A values file in the vendor console's format, placeholders filled in by its user.
resourceNamePrefix: acme-agents
createNamespace: false
namespace: acme-agents
astroDeploymentAPIURL: <api-url>
imagePullSecretName: acme-registry
imagePullSecretData: ~
agentTokenSecretName: acme-agent-token
agentToken: ~
secretBackend: "airflow.secrets.local_filesystem.LocalFilesystemBackend"
xcomBackend: "airflow.providers.common.io.xcom.backend.XComObjectStorageBackend"
dagBundleConfigList: '[{"name": "acme-dags",
  "classpath": "airflow.providers.git.bundles.git.GitDagBundle",
  "kwargs": {"git_conn_id": "git_default", "subdir": "dags", "tracking_ref": "main",
  "refresh_interval": 10}}]'
commonEnv:
  - name: AIRFLOW_CONN_GIT_DEFAULT
    value: '{"conn_type": "git", "login": "acme-bot", "password": "not-a-real-token",
      "host": "https://git.acme.example/data/dags"}'
  - name: AIRFLOW__LOGGING__REMOTE_LOGGING
    value: True
  - name: AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_PATH
    value: "s3://aws_default@acme-xcom/xcom"
  - name: AIRFLOW__COMMON_IO__XCOM_OBJECTSTORAGE_THRESHOLD
    value: "0"
  - name: NO_PROXY
    value: "127.0.0.1,localhost"
openLineage:
  enabled: false
  apiKeySecret: ~
  apiKey: ~
  namespace: acme-release-1234
  url: https://lineage.acme.example
logLevel: INFO
labels: {}
annotations: {}
podSecurityContext:
  runAsUser: 50000
  fsGroup: 50000
  runAsNonRoot: true
containerSecurityContext: {}
serviceAccount:
  annotations: {}
  workers: {create: true, name: ~, annotations: {}}
  dagProcessor: {create: true, name: ~, annotations: {}}
  triggerer: {create: true, name: ~, annotations: {}}
loggingSidecar:
  enabled: false
  name: vector-logging-sidecar
  image: timberio/vector:0.45.0-debian
  env: []
  securityContext: {}
  volumeMounts: []
  resources: {}
  config: ~
workers:
  - name: default-worker
    queues: default
    replicas: 2
    syncSlots: 20
    image: registry.acme.example/agents/agent:3.0-4-python-3.12-agent-1.0.2
    resources:
      limits: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
      requests: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
    env: []
    hpa:
      enabled: false
      minReplicaCount: 1
      maxReplicaCount: 1
      metric:
        enabled: true
        name: astro_agent_client_queued_or_running_tasks
        target: {type: Value, Value: 10}
      extraMetrics: []
      behavior:
        scaleUp:
          stabilizationWindowSeconds: 0
          policies:
            - {type: Pods, value: 1, periodSeconds: 60}
        scaleDown:
          stabilizationWindowSeconds: 300
    terminationGracePeriodSeconds: 600
    livenessProbe: &probe
      httpGet: {path: healthz, port: 39091}
      initialDelaySeconds: 5
      periodSeconds: 5
      failureThreshold: 3
      successThreshold: 1
      timeoutSeconds: 5
    readinessProbe: *probe
    podSecurityContext: ~
    containerSecurityContext: {}
    initContainers: []
    extraContainers: []
    volumes: []
    volumeMounts: []
    nodeSelector: ~
  - name: ml
    queues: gpu,ml-batch
    replicas: 1
    syncSlots: 4
    image: registry.acme.example/agents/agent:3.0-4-python-3.12-agent-1.0.2
    terminationGracePeriodSeconds: 3600
dagProcessor:
  image: registry.acme.example/agents/agent:3.0-4-python-3.12-agent-1.0.2
  resources:
    limits: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
    requests: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
  env: []
  livenessProbe: *probe
  readinessProbe: *probe
  podSecurityContext: ~
  containerSecurityContext: {}
  initContainers: []
  extraContainers: []
  volumes: []
  volumeMounts: []
  nodeSelector: ~
triggerer:
  replicas: 1
  asyncSlots: 1000
  image: registry.acme.example/agents/agent:3.0-4-python-3.12-agent-1.0.2
  resources:
    limits: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
    requests: {cpu: "1", ephemeral-storage: "1Gi", memory: "2Gi"}
  env: []
  livenessProbe: *probe
  readinessProbe: *probe
  podSecurityContext: ~
  containerSecurityContext: {}
  initContainers: []
  extraContainers: []
  volumes: []
  volumeMounts: []
  nodeSelector: ~
"""
