"""The production manifests (infra/compose, infra/k8s) cannot run here: check them as data.

Parsed with pyyaml: the Kafka cluster is three KRaft brokers with replication factor 3 and
min.insync.replicas 2, the services get every setting they need (and only real ones), and
ports agree between commands, environment, container ports, Services and probes.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from saylau.log.kafka import EVENTS_TOPIC_CONFIG, replication_for
from saylau.settings import Settings

INFRA = Path(__file__).resolve().parents[2] / "infra"
SETTINGS = {name.upper() for name in Settings.model_fields}
REQUIRED = {"KAFKA_BOOTSTRAP", "DATABASE_URL", "EVENTS_TOPIC", "DEAD_LETTER_TOPIC",
            "EVENTS_PARTITIONS", "READ_SCHEMA", "PROJECTOR_GROUP", "SAYLAU_API_KEYS",
            "SAYLAU_MASTER_KEY"}
PORT_SETTING = {"ingest": "INGEST_PORT", "api": "API_PORT"}


def compose() -> dict[str, Any]:
    return yaml.safe_load((INFRA / "compose" / "docker-compose.yml").read_text())


def k8s() -> list[dict[str, Any]]:
    return [doc for path in sorted((INFRA / "k8s").glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if doc]


def named(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in k8s() if d["kind"] == kind and d["metadata"]["name"] == name)


def cli_port(command: list[str]) -> int:
    return int(command[command.index("--port") + 1])


def url_port(text: str) -> int:
    return int(re.search(r"127\.0\.0\.1:(\d+)", text).group(1))  # type: ignore[union-attr]


def kafka_env(env: dict[str, str]) -> None:
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert len(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == 3
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
    assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert env["KAFKA_LOG_RETENTION_MS"] == env["KAFKA_LOG_RETENTION_BYTES"] == "-1"


def topic_step(command: list[str], env: dict[str, str]) -> None:
    """The topic creation step is the code's own (`saylau topics ensure`, as every service
    checks at start), with RF 3, min ISR 2 and the partitions of the shared settings."""
    assert command == ["saylau", "topics", "ensure"]
    assert env["KAFKA_REPLICATION"] == "3" and env["KAFKA_MIN_ISR"] == "2"
    assert {"KAFKA_BOOTSTRAP", "EVENTS_TOPIC", "DEAD_LETTER_TOPIC", "EVENTS_PARTITIONS"} <= set(env)
    cfg = Settings(**{k.lower(): v for k, v in env.items() if k.lower() in Settings.model_fields})
    assert replication_for(cfg, brokers=3) == (3, 2)
    assert replication_for(cfg, brokers=5) == (3, 2)


def test_topics_the_code_creates_never_delete() -> None:
    assert EVENTS_TOPIC_CONFIG["retention.ms"] == EVENTS_TOPIC_CONFIG["retention.bytes"] == "-1"
    assert EVENTS_TOPIC_CONFIG["cleanup.policy"] == "delete"


# --- docker compose -------------------------------------------------------------------------

def test_compose_kafka_is_three_kraft_brokers_rf3_min_isr2() -> None:
    services = compose()["services"]
    brokers = [s for name, s in services.items() if name.startswith("kafka-")]
    assert len(brokers) == 3
    assert sorted(b["environment"]["KAFKA_NODE_ID"] for b in brokers) == ["1", "2", "3"]
    for broker in brokers:
        kafka_env(broker["environment"])
    voters = brokers[0]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"]
    assert {v.split("@")[1].split(":")[0] for v in voters.split(",")} == {
        n for n in services if n.startswith("kafka-")}


@pytest.mark.parametrize("service", ["ingest", "projector", "api"])
def test_compose_services_get_real_and_required_settings(service: str) -> None:
    spec = compose()["services"][service]
    env = spec["environment"]
    assert REQUIRED <= set(env) <= SETTINGS
    assert spec["deploy"]["replicas"] >= 2
    hosts = {h.split(":")[0] for h in env["KAFKA_BOOTSTRAP"].split(",")}
    assert hosts == {n for n in compose()["services"] if n.startswith("kafka-")}
    assert urlparse(env["DATABASE_URL"]).hostname == "postgres"
    assert urlparse(env["DATABASE_URL"]).port == 5432


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_compose_http_ports_agree(service: str) -> None:
    spec = compose()["services"][service]
    port = cli_port(spec["command"])
    assert int(spec["environment"][PORT_SETTING[service]]) == port
    assert [int(str(p).split(":")[-1]) for p in spec["ports"]] == [port]
    assert url_port(" ".join(spec["healthcheck"]["test"])) == port


def test_compose_projector_probe_uses_its_metrics_port() -> None:
    spec = compose()["services"]["projector"]
    port = int(spec["environment"]["PROJECTOR_METRICS_PORT"])
    assert url_port(" ".join(spec["healthcheck"]["test"])) == port


def test_compose_topics_created_before_services() -> None:
    services = compose()["services"]
    topic_step(services["topics"]["command"], services["topics"]["environment"])
    assert services["topics"]["environment"].items() <= services["ingest"]["environment"].items()
    for name in ("ingest", "projector", "api"):
        assert services[name]["depends_on"]["topics"]["condition"] == (
            "service_completed_successfully")


# --- Kubernetes -----------------------------------------------------------------------------

def config() -> dict[str, str]:
    return {**named("ConfigMap", "saylau-config")["data"],
            **named("Secret", "saylau-secrets")["stringData"]}


def container(name: str) -> dict[str, Any]:
    return named("Deployment", name)["spec"]["template"]["spec"]["containers"][0]


def test_k8s_kafka_is_three_kraft_brokers_rf3_min_isr2() -> None:
    kafka = named("StatefulSet", "kafka")
    assert kafka["spec"]["replicas"] == 3
    pod = kafka["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in pod["env"] if "value" in e}
    kafka_env(env)
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [f"{i + 1}@kafka-{i}.kafka:9093" for i in range(3)]
    assert {p["containerPort"] for p in pod["ports"]} == {
        p["port"] for p in named("Service", "kafka")["spec"]["ports"]}
    assert named("PodDisruptionBudget", "kafka")["spec"]["maxUnavailable"] == 1


def test_k8s_config_holds_only_real_settings_and_all_required() -> None:
    settings_keys = set(config()) - {"POSTGRES_PASSWORD"}
    assert REQUIRED <= settings_keys <= SETTINGS
    bootstrap = config()["KAFKA_BOOTSTRAP"].split(",")
    assert bootstrap == [f"kafka-{i}.kafka:9092" for i in range(3)]
    db = urlparse(config()["DATABASE_URL"])
    postgres_port = named("Service", "postgres")["spec"]["ports"][0]["port"]
    assert db.hostname == "postgres" and db.port == postgres_port


@pytest.mark.parametrize("service", ["ingest", "api"])
def test_k8s_http_ports_agree(service: str) -> None:
    pod = container(service)
    port = cli_port(pod["command"])
    assert int(config()[PORT_SETTING[service]]) == port
    assert [p["containerPort"] for p in pod["ports"]] == [port]
    assert pod["readinessProbe"]["httpGet"]["port"] == port
    assert pod["livenessProbe"]["httpGet"]["port"] == port
    assert named("Service", service)["spec"]["ports"][0]["targetPort"] == port


def test_k8s_projector_probe_uses_its_metrics_port() -> None:
    pod = container("projector")
    port = int(config()["PROJECTOR_METRICS_PORT"])
    assert url_port(" ".join(pod["livenessProbe"]["exec"]["command"])) == port
    assert [p["containerPort"] for p in pod["ports"]] == [port]


@pytest.mark.parametrize("service", ["ingest", "projector", "api"])
def test_k8s_services_read_the_shared_config(service: str) -> None:
    sources = container(service)["envFrom"]
    assert {"configMapRef": {"name": "saylau-config"}} in sources
    assert {"secretRef": {"name": "saylau-secrets"}} in sources
    assert named("Deployment", service)["spec"]["replicas"] >= 2


def test_k8s_topics_rf3_and_enough_partitions_for_the_projectors() -> None:
    init = named("Deployment", "ingest")["spec"]["template"]["spec"]["initContainers"][0]
    assert init["image"] == container("ingest")["image"]
    assert init["envFrom"] == container("ingest")["envFrom"]
    topic_step(init["command"], config())
    assert named("Deployment", "projector")["spec"]["replicas"] <= int(
        config()["EVENTS_PARTITIONS"])


def test_k8s_selectors_match_pod_labels() -> None:
    for doc in k8s():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            labels = doc["spec"]["template"]["metadata"]["labels"]
            assert doc["spec"]["selector"]["matchLabels"].items() <= labels.items()
            assert any(d["kind"] == "Service" and d["spec"]["selector"].items() <= labels.items()
                       for d in k8s()) or doc["metadata"]["name"] == "projector"


def test_the_image_the_manifests_name_has_a_dockerfile() -> None:
    dockerfile = (INFRA.parent / "Dockerfile").read_text()
    for needed in ("COPY saylau", "COPY services", "COPY schemas", "COPY elections", "COPY maps",
                   "COPY i18n", "kaz.topo.json",
                   "pip install --no-cache-dir -e ."):  # editable: schemas/ stays beside
        assert needed in dockerfile, needed
