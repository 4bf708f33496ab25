"""No Docker engine runs here: the container files are checked statically."""
import configparser
import os
import re
from pathlib import Path

import yaml

from config import KNOWN_VARIABLES, load_settings
from tests.conftest import REPO

K8S = REPO / "deployment" / "k8s"
SONARIUM_SERVICES = ("web", "worker")


def assert_valid_settings(env: dict, where: str):
    unknown = set(env) - KNOWN_VARIABLES
    assert not unknown, f"{where} sets variables config.py does not read: {sorted(unknown)}"
    load_settings({k: str(v) for k, v in env.items()})  # values parse strictly, too


def test_compose_services_and_their_settings():
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    assert set(compose["services"]) == {"postgres", "redis", "web", "worker"}
    for name in SONARIUM_SERVICES:
        service = compose["services"][name]
        assert service["build"] == "." and service["image"] == "sonarium:latest"
        assert service["environment"]["SERVICE_TYPE"] == name
        assert_valid_settings(service["environment"], f"compose service {name}")
    assert "8000:8000" in compose["services"]["web"]["ports"]


def _manifests() -> list[dict]:
    documents = []
    for file in sorted(K8S.glob("*.yaml")):
        documents += [d for d in yaml.safe_load_all(file.read_text()) if d]
    return documents


def test_k8s_manifests_have_the_expected_kinds():
    found = {(d["kind"], d["metadata"]["name"]) for d in _manifests()}
    assert {("Namespace", "sonarium"), ("ConfigMap", "sonarium-config"), ("Secret", "sonarium-secrets"),
            ("PersistentVolumeClaim", "postgres-data"), ("Deployment", "postgres"), ("Service", "postgres"),
            ("Deployment", "redis"), ("Service", "redis"), ("Deployment", "web"), ("Service", "web"),
            ("Deployment", "worker")} <= found
    assert all(d["metadata"].get("namespace") == "sonarium" for d in _manifests() if d["kind"] != "Namespace")
    worker = next(d for d in _manifests() if d["kind"] == "Deployment" and d["metadata"]["name"] == "worker")
    assert worker["spec"]["replicas"] >= 2


def test_k8s_sonarium_pods_only_set_variables_config_reads():
    documents = _manifests()
    sources = {(d["kind"], d["metadata"]["name"]): d.get("data") or d.get("stringData") or {}
               for d in documents if d["kind"] in ("ConfigMap", "Secret")}
    for name in SONARIUM_SERVICES:
        deployment = next(d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] == name)
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        env = {}
        for source in container.get("envFrom", []):
            kind, ref = ("ConfigMap", source["configMapRef"]) if "configMapRef" in source else \
                ("Secret", source["secretRef"])
            env.update(sources[(kind, ref["name"])])
        env.update({item["name"]: item["value"] for item in container.get("env", [])})
        assert env["SERVICE_TYPE"] == name
        assert_valid_settings(env, f"k8s deployment {name}")


def test_dockerfile_sets_only_known_variables_and_uses_the_entrypoint():
    dockerfile = (REPO / "Dockerfile").read_text()
    env_block = re.search(r"^ENV (.+?)(?=^\S)", dockerfile, re.M | re.S).group(1)
    names = set(re.findall(r"([A-Z_]+)=", env_block))
    assert names and names <= KNOWN_VARIABLES
    assert 'ENTRYPOINT ["deployment/entrypoint.sh"]' in dockerfile
    entrypoint = REPO / "deployment" / "entrypoint.sh"
    assert os.access(entrypoint, os.X_OK) and "python -m launcher start" in entrypoint.read_text()


def test_supervisord_conf_uses_only_what_the_launcher_sets(tmp_path):
    from launcher.__main__ import supervisor_environment
    conf_text = (REPO / "deployment" / "supervisord.conf").read_text()
    parser = configparser.RawConfigParser()
    parser.read_string(conf_text)
    programs = {s.split(":", 1)[1] for s in parser.sections() if s.startswith("program:")}
    assert programs == {"postgres", "valkey", "web", "orchestrator", "worker", "reconciler"}
    provided = supervisor_environment(load_settings({"SONARIUM_DATA_DIR": str(tmp_path), "SECRET_KEY": "k"}))
    used = set(re.findall(r"%\(ENV_([A-Z_]+)\)s", conf_text))
    assert used <= set(provided), used - set(provided)
    # with external servers, the private ones stay off
    external = supervisor_environment(load_settings({
        "SONARIUM_DATA_DIR": str(tmp_path), "SECRET_KEY": "k", "SERVICE_TYPE": "worker",
        "DATABASE_URL": "postgresql://db/x", "REDIS_URL": "redis://r:6379/0"}))
    assert (external["SONARIUM_RUN_POSTGRES"], external["SONARIUM_RUN_VALKEY"], external["SONARIUM_RUN_WEB"],
            external["SONARIUM_RUN_WORKERS"]) == ("false", "false", "false", "true")


def test_k8s_probes_reach_the_web_app_without_an_account(anonymous):
    """Probes carry no credentials and come by the pod's IP address (WEB_HOST listens everywhere)."""
    probes = [container[kind]["httpGet"]
              for d in _manifests() if d["kind"] == "Deployment"
              for container in d["spec"]["template"]["spec"]["containers"]
              for kind in ("readinessProbe", "livenessProbe") if "httpGet" in container.get(kind, {})]
    assert probes
    for probe in probes:
        answer = anonymous.get(probe["path"], headers={"Host": f"127.0.0.1:{probe['port']}"})
        assert answer.status_code == 200, probe
