"""The Kubernetes manifests (deploy/kubernetes/base): each valid against the Kubernetes API's
schema (kubernetes-validate, strict: unknown fields fail), and a policy over them in place of a
scanner — non-root, read-only, no escalation, probes, limits, a pinned image, a grace that lets
streams drain, and the HPA, PDB and Service aimed at the Deployment's pods. The base is
rendered as kustomize would: it has only `resources:`, so loading those files is the render."""

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes_validate.utils import ValidationError as SchemaError
from kubernetes_validate.utils import latest_version, validate
from pydantic import ValidationError

from app.config import Settings
from tests.dockerfile import instructions
from tests.factories import JWT_SECRET, UPSTREAM_KEY

ROOT = Path(__file__).parent.parent
BASE = ROOT / "deploy" / "kubernetes" / "base"
# The oldest minor the manifests promise (autoscaling/v2 and policy/v1 are GA well before it),
# and the newest that kubernetes-validate knows.
KUBERNETES_VERSIONS = ["1.30", latest_version()]
KUSTOMIZATION = yaml.safe_load((BASE / "kustomization.yaml").read_text())
SECRET_KEYS = {"OPENROUTER_API_KEY", "JWT_SECRET", "ACCESS_API_KEY", "DATABASE_URL", "REDIS_URL"}


def render() -> list[dict[str, Any]]:
    """What `kubectl kustomize` prints for the base: its resources, unchanged."""
    documents = []
    for name in KUSTOMIZATION["resources"]:
        documents += [d for d in yaml.safe_load_all((BASE / name).read_text()) if d]
    return documents


RESOURCES = render()


def settings_from(env: dict[str, str]) -> Settings:
    """What a pod given `env` runs with; nothing read from this process."""
    values: dict[str, Any] = {k.lower(): v for k, v in env.items()}
    return Settings(_env_file=None, **values)


def one(kind: str) -> dict[str, Any]:
    (found,) = [r for r in RESOURCES if r["kind"] == kind]
    return found


DEPLOYMENT = one("Deployment")
POD = DEPLOYMENT["spec"]["template"]["spec"]
(CONTAINER,) = POD["containers"]
CONFIG = one("ConfigMap")["data"]
SECRET = one("Secret")["stringData"]


def test_the_base_is_only_resources() -> None:
    # Anything else (patches, generators, labels) would need kustomize itself to render.
    assert set(KUSTOMIZATION) == {"apiVersion", "kind", "resources"}
    listed = set(KUSTOMIZATION["resources"])
    assert listed == {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: str(r["kind"]))
def test_valid_against_the_kubernetes_schema(resource: dict[str, Any], version: str) -> None:
    validate(resource, version, strict=True)


def test_the_schema_check_catches_a_typo() -> None:
    wrong = {**DEPLOYMENT, "spec": {**DEPLOYMENT["spec"], "replica": 2}}
    with pytest.raises(SchemaError):
        validate(wrong, KUBERNETES_VERSIONS[0], strict=True)


def test_runs_unprivileged_on_a_read_only_root() -> None:
    assert POD["securityContext"]["runAsNonRoot"] is True
    assert f"USER {POD['securityContext']['runAsUser']}" in (ROOT / "Dockerfile").read_text()
    assert POD["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert POD["automountServiceAccountToken"] is False
    context = CONTAINER["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["privileged"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"]["drop"] == ["ALL"]


def test_every_place_it_writes_is_a_volume() -> None:
    data_dir = re.search(r"\bDATA_DIR=(\S+)", instructions("ENV")[0])
    assert data_dir
    mounts = {m["mountPath"]: m["name"] for m in CONTAINER["volumeMounts"]}
    assert set(mounts) == {"/tmp", data_dir[1]}
    volumes = {v["name"]: v for v in POD["volumes"]}
    assert all("emptyDir" in volumes[name] for name in mounts.values())


def test_probes_ready_on_readyz_alive_on_healthz() -> None:
    named_ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    assert named_ports["http"] == int(CONFIG["PORT"])
    assert named_ports["metrics"] == int(CONFIG["METRICS_PORT"])
    assert named_ports["health"] == int(CONFIG["HEALTH_PORT"])
    probes = {
        kind: CONTAINER[kind]["httpGet"]
        for kind in ("readinessProbe", "livenessProbe", "startupProbe")
    }
    assert probes["readinessProbe"]["path"] == "/readyz"
    assert probes["livenessProbe"]["path"] == "/healthz"
    assert probes["startupProbe"]["path"] == "/healthz"
    # Liveness on the health port's own thread, which a busy event loop cannot delay;
    # readiness and start-up through the loop, which is what serves traffic.
    assert probes["livenessProbe"]["port"] == "health"
    assert probes["readinessProbe"]["port"] == probes["startupProbe"]["port"] == "http"
    # A busy gateway must not be killed for one slow answer.
    liveness = CONTAINER["livenessProbe"]
    assert liveness["timeoutSeconds"] >= 2
    assert liveness["failureThreshold"] >= 3


def test_requests_and_limits_are_set() -> None:
    resources = CONTAINER["resources"]
    for kind in ("requests", "limits"):
        assert set(resources[kind]) == {"cpu", "memory"}


def test_the_image_is_pinned_to_the_project_version() -> None:
    version = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert version
    assert CONTAINER["image"] == f"ai-gateway:{version[1]}"
    assert CONTAINER["imagePullPolicy"] == "IfNotPresent"


def test_streams_drain_before_the_pod_is_killed() -> None:
    """preStop sleeps while the endpoints drop the pod; then SIGTERM starts the streams' grace;
    the ledger flushes after it. All of it inside terminationGracePeriodSeconds."""
    command = CONTAINER["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    pre_stop_s = float(command[1])
    grace_s = float(CONFIG["SHUTDOWN_GRACE_S"])
    assert POD["terminationGracePeriodSeconds"] >= pre_stop_s + grace_s + 10
    assert DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_hpa_pdb_and_service_aim_at_the_deployments_pods() -> None:
    selector = DEPLOYMENT["spec"]["selector"]["matchLabels"]
    pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    hpa = one("HorizontalPodAutoscaler")["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": DEPLOYMENT["apiVersion"],
        "kind": "Deployment",
        "name": DEPLOYMENT["metadata"]["name"],
    }
    assert hpa["minReplicas"] >= 2
    assert "replicas" not in DEPLOYMENT["spec"]  # the HPA owns the count
    assert one("PodDisruptionBudget")["spec"]["selector"]["matchLabels"] == selector
    service = one("Service")
    assert service["spec"]["selector"].items() <= pod_labels.items()
    ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert ports == {"http": (8080, "http"), "metrics": (9464, "metrics")}
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == CONFIG["METRICS_PORT"]
    assert annotations["prometheus.io/path"] == "/metrics"


def test_settings_come_from_the_configmap_and_the_secret() -> None:
    env_from = [next(iter(source.values()))["name"] for source in CONTAINER["envFrom"]]
    assert env_from == [one("ConfigMap")["metadata"]["name"], one("Secret")["metadata"]["name"]]
    assert {name.lower() for name in CONFIG} <= set(Settings.model_fields)
    assert {name.lower() for name in SECRET} <= set(Settings.model_fields)
    settings = settings_from(
        {**CONFIG, "OPENROUTER_API_KEY": UPSTREAM_KEY, "JWT_SECRET": JWT_SECRET}
    )
    assert settings.host == "0.0.0.0"
    assert settings.log_format == "json"


def test_the_secret_holds_only_placeholders() -> None:
    assert set(SECRET) == SECRET_KEYS
    assert all(value.startswith("<placeholder:") for value in SECRET.values())
    # Applied as it is, the gateway refuses to start instead of running on them.
    with pytest.raises(ValidationError, match="placeholder"):
        settings_from({**CONFIG, **SECRET})


def test_the_example_overlay_replaces_the_secret_and_the_image() -> None:
    """The overlay an operator copies: the base, their image, and the Secret from a file of
    theirs with the same keys (kustomize renders it; here only its wiring is checked)."""
    overlay = BASE.parent / "overlays" / "example"
    kustomization = yaml.safe_load((overlay / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../../base"]
    (image,) = kustomization["images"]
    assert image["name"] == CONTAINER["image"].split(":")[0]
    assert image["newTag"] == CONTAINER["image"].split(":")[1]
    (generated,) = kustomization["secretGenerator"]
    assert generated["name"] == one("Secret")["metadata"]["name"]
    assert generated["behavior"] == "replace"
    assert generated["envs"] == ["secrets.env"]
    example = (overlay / "secrets.env.example").read_text().splitlines()
    assert {line.split("=", 1)[0] for line in example if line} == SECRET_KEYS
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/kubernetes/overlays/*/secrets.env" in ignored
