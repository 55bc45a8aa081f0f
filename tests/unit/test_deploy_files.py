"""The deployment files, checked offline: every kustomization under
deploy/kubernetes/ rendered (`kubectl kustomize`, which has kustomize built
in) and every object validated against the schemas of a pinned Kubernetes
version (`kubernetes-validate`, which ships them); the KServe
InferenceService against the essentials of its CRD; the Swarm stack file
and the compose file for what the scaling docs promise.

No cluster and no network: the schemas come with the package.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.support.compose import unavailable

REPO = Path(__file__).resolve().parents[2]
KUBERNETES = REPO / "deploy" / "kubernetes"
KUSTOMIZATIONS = ["base", "overlays/local", "overlays/production"]
INFERENCE_SERVICE = REPO / "deploy" / "kserve" / "inferenceservice.yaml"
K8S_VERSION = "1.31.0"  # the oldest Kubernetes release still maintained upstream
DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def render(kustomization: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        unavailable("kubectl (with its built-in kustomize) is not installed")
    done = subprocess.run(
        [kubectl, "kustomize", str(KUBERNETES / kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def by_kind(objects: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_every_rendered_object_is_valid_kubernetes(kustomization: str) -> None:
    objects = render(kustomization)
    kinds = Counter(o["kind"] for o in objects)
    assert kinds["Deployment"] == 2, kinds
    assert kinds["Service"] == 2, kinds
    assert kinds["HorizontalPodAutoscaler"] == 1, kinds
    assert kinds["PodDisruptionBudget"] == 2, kinds
    for obj in objects:
        # strict: an unknown or misspelt field is an error, not ignored.
        kubernetes_validate.validate(obj, K8S_VERSION, strict=True)


def test_a_wrong_manifest_is_caught() -> None:
    """The validation itself can fail: a misspelt field and a wrong type."""
    deployment = by_kind(render("base"), "Deployment")["model-service"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment["spec"]["replicas"] = 2
    containers(deployment)[0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_pods_are_probed_bounded_and_locked_down(kustomization: str) -> None:
    objects = render(kustomization)
    deployments = by_kind(objects, "Deployment")
    ready_path = {"model-service": "/ping", "web-app": "/healthz"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        strategy = deployment["spec"]["strategy"]["rollingUpdate"]
        assert strategy["maxUnavailable"] == 0, name
        for container in containers(deployment):
            assert container["readinessProbe"]["httpGet"]["path"] == ready_path[name], name
            assert "livenessProbe" in container, name
            assert set(container["resources"]) == {"requests", "limits"}, name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"] for m in container.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_services_autoscaler_and_budgets_point_at_the_deployments(kustomization: str) -> None:
    objects = render(kustomization)
    deployments = by_kind(objects, "Deployment")
    pod_labels = {
        name: d["spec"]["template"]["metadata"]["labels"] for name, d in deployments.items()
    }

    def selects(selector: dict[str, str]) -> list[str]:
        return [n for n, labels in pod_labels.items() if selector.items() <= labels.items()]

    services = by_kind(objects, "Service")
    assert selects(services["model-service"]["spec"]["selector"]) == ["model-service"]
    assert selects(services["web-app"]["spec"]["selector"]) == ["web-app"]
    # Headless: the name resolves to every ready replica, which the web app balances over.
    assert services["model-service"]["spec"]["clusterIP"] == "None"
    for budget in by_kind(objects, "PodDisruptionBudget").values():
        assert len(selects(budget["spec"]["selector"]["matchLabels"])) == 1
    autoscaler = by_kind(objects, "HorizontalPodAutoscaler")["model-service"]
    assert autoscaler["spec"]["scaleTargetRef"]["name"] in deployments
    assert autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    # The web app calls the model by the Service's name and port.
    env = {e["name"]: e for e in containers(deployments["web-app"])[0]["env"]}
    port = services["model-service"]["spec"]["ports"][0]["port"]
    assert env["WEB_APP_MODEL_URL"]["value"] == f"http://model-service:{port}"


@pytest.mark.parametrize("kustomization", KUSTOMIZATIONS)
def test_the_model_image_and_the_token_are_values(kustomization: str) -> None:
    deployments = by_kind(render(kustomization), "Deployment")
    image = containers(deployments["model-service"])[0]["image"]
    assert re.fullmatch(r"(.+/)?model-service:[\w.-]+", image), image
    # The token comes from a Secret that may be absent (then: no token).
    for name, variable in (
        ("model-service", "MODEL_SERVICE_TOKEN"),
        ("web-app", "WEB_APP_MODEL_TOKEN"),
    ):
        env = {e["name"]: e for e in containers(deployments[name])[0]["env"]}
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "model-service-token"
        assert ref["optional"] is True


def test_the_inference_service_has_its_crds_essentials() -> None:
    """What KServe's v1beta1 CRD and its webhook require of a custom
    predictor, checked here without the CRD: the group and kind, a DNS-1035
    name, exactly one predictor container named kserve-container with an
    image, PROTOCOL v1 or v2 (v2 here), and replica bounds in order. The
    container and volumes are a core PodSpec, so they are validated as a Pod."""
    documents = [d for d in yaml.safe_load_all(INFERENCE_SERVICE.read_text()) if d]
    assert len(documents) == 1
    isvc = documents[0]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["kind"] == "InferenceService"
    assert DNS_1035.match(isvc["metadata"]["name"])
    assert len(isvc["metadata"]["name"]) <= 45  # KServe's limit, room for its suffixes
    assert set(isvc["spec"]) == {"predictor"}
    predictor = isvc["spec"]["predictor"]
    assert 0 <= predictor["minReplicas"] <= predictor["maxReplicas"]
    assert predictor["scaleMetric"] in ("cpu", "memory", "concurrency", "rps")
    (container,) = predictor["containers"]
    assert container["name"] == "kserve-container"
    assert re.fullmatch(r"(.+/)?model-service:[\w.-]+", container["image"])
    env = {e["name"]: e for e in container["env"]}
    assert env["PROTOCOL"]["value"] == "v2"
    assert env["MODEL_SERVICE_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    pod_fields = {k: v for k, v in predictor.items() if k in ("containers", "volumes")}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "predictor"}, "spec": pod_fields}
    kubernetes_validate.validate(pod, K8S_VERSION, strict=True)


def test_the_swarm_stack_shares_the_compose_services() -> None:
    stack = yaml.safe_load((REPO / "docker-stack.yml").read_text())
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert set(stack["services"]) == set(compose["services"])
    for name, service in stack["services"].items():
        assert service["image"] == compose["services"][name]["image"], name
        assert service["read_only"] is True, name
        assert service["cap_drop"] == ["ALL"], name
        deploy = service["deploy"]
        assert {"replicas", "resources", "restart_policy", "update_config"} <= set(deploy), name
    model = stack["services"]["model_service"]["deploy"]
    assert model["endpoint_mode"] == "dnsrr"
    assert model["update_config"]["order"] == "start-first"
    assert model["replicas"] >= 2
    (port,) = stack["services"]["web_app"]["ports"]
    assert port["mode"] == "host"


def test_compose_publishes_8080_unless_told_to_let_the_host_pick() -> None:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    (port,) = compose["services"]["model_service"]["ports"]
    # 8080 when unset (the quick start's curl); set empty, "127.0.0.1::8080":
    # a free loopback port per replica, for --scale. "-", not ":-".
    assert port == "127.0.0.1:${MODEL_SERVICE_PUBLISH_PORT-8080}:8080"
