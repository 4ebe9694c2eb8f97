"""The production deployment files (deploy/) are valid and agree with each other and with the code.

deploy/dagster/dagster.yaml goes through Dagster's own instance loading — `InstanceRef.from_dir` (the
top-level schema, the storage/run-queue/concurrency conflict rules) and then, for every pluggable class it
names, that class's `config_type()` with the environment resolved — the steps `DagsterInstance` runs at
start-up, minus instantiating the classes (which would connect to Postgres and Kubernetes). Nothing here
touches the network. The Helm values have no schema offline (the chart's values.schema.json ships with the
chart), so they are parsed and the keys we rely on are checked against dagster.yaml.
"""

from __future__ import annotations

import importlib
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from dagster._config import process_config, resolve_to_config_type
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.ref import InstanceRef
from dagster._serdes.config_class import ConfigurableClassData

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
INSTANCE = DEPLOY / "dagster" / "dagster.yaml"
PG_ENV = {"DAGSTER_PG_USERNAME": "dagster", "DAGSTER_PG_PASSWORD": "not-a-secret", "DAGSTER_PG_HOST": "pg.invalid",
          "DAGSTER_PG_DB": "dagster", "DAGSTER_PG_PORT": "6543"}


def validate_instance(directory: Path) -> dict[str, tuple[str, dict]]:
    """Load `directory/dagster.yaml` as Dagster would; return {field: (class name, resolved config)}.

    Raises DagsterInvalidConfigError (with Dagster's own message) on the first invalid part.
    """
    ref = InstanceRef.from_dir(str(directory))
    resolved = {}
    for name in ref._fields:
        data = getattr(ref, name)
        if not isinstance(data, ConfigurableClassData):
            continue
        klass = getattr(importlib.import_module(data.module_name), data.class_name)
        result = process_config(resolve_to_config_type(klass.config_type()), data.config_dict)
        if not result.success:
            raise DagsterInvalidConfigError(f"Errors whilst loading configuration for {name} ({data.class_name}).",
                                            result.errors, data.config_dict)
        resolved[name] = (data.class_name, result.value)
    return resolved


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Dummy values for every variable the instance reads (none of them is ever used to connect)."""
    values = PG_ENV | {"LIFECYCLE_JOB_IMAGE": "registry.invalid/lifecycle-analytics:test"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def instance_copy(tmp_path: Path, edit=None) -> Path:
    """A copy of deploy/dagster/dagster.yaml in its own directory, optionally edited as a dict."""
    directory = tmp_path / "instance"
    directory.mkdir()
    if edit is None:
        shutil.copy(INSTANCE, directory / "dagster.yaml")
    else:
        config = yaml.safe_load(INSTANCE.read_text())
        edit(config)
        (directory / "dagster.yaml").write_text(yaml.safe_dump(config))
    return directory


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def k8s_objects() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc
            for doc in yaml.safe_load_all((DEPLOY / "k8s" / "lifecycle.yaml").read_text()) if doc}


def test_production_instance_passes_dagster_validation(env, tmp_path):
    resolved = validate_instance(instance_copy(tmp_path))
    classes = {name: cls for name, (cls, _) in resolved.items()}
    assert classes["run_storage_data"] == "PostgresRunStorage"
    assert classes["event_storage_data"] == "PostgresEventLogStorage"
    assert classes["schedule_storage_data"] == "PostgresScheduleStorage"
    assert classes["run_coordinator_data"] == "QueuedRunCoordinator"
    assert classes["run_launcher_data"] == "K8sRunLauncher"
    # the credentials come from the environment, the port parsed as a number
    postgres = resolved["run_storage_data"][1]["postgres_db"]
    assert (postgres["hostname"], postgres["port"], postgres["password"]) == ("pg.invalid", 6543, "not-a-secret")
    launcher = resolved["run_launcher_data"][1]
    assert launcher["job_image"] == env["LIFECYCLE_JOB_IMAGE"]
    assert launcher["env_config_maps"] == ["lifecycle-settings"]


def test_development_instance_is_valid_too(tmp_path):
    directory = tmp_path / "dev"
    directory.mkdir()
    shutil.copy(ROOT / "dagster.yaml", directory / "dagster.yaml")
    assert "run_launcher_data" in validate_instance(directory)


def _drop_instance_config_map(c):
    del c["run_launcher"]["config"]["instance_config_map"]


def _misspell_hostname(c):
    db = c["run_storage"]["config"]["postgres_db"]
    db["host"] = db.pop("hostname")


def _run_limit_twice(c):
    c["run_coordinator"]["config"] = {"max_concurrent_runs": 1}


def _unknown_granularity(c):
    c["concurrency"]["pools"]["granularity"] = "pool"


@pytest.mark.parametrize(("edit", "message"), [
    (_drop_instance_config_map, 'Missing required config entry "instance_config_map"'),
    (_misspell_hostname, 'Received unexpected config entry "host"'),
    (_run_limit_twice, "incompatible with the `concurrency > runs` config"),
    (_unknown_granularity, "Expected value 'run' or 'op'"),
])
def test_a_broken_instance_is_rejected_with_a_clear_message(env, tmp_path, edit, message):
    with pytest.raises(DagsterInvalidConfigError) as error:
        validate_instance(instance_copy(tmp_path, edit))
    assert message in str(error.value)


def test_a_missing_environment_variable_is_named(env, tmp_path, monkeypatch):
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(DagsterInvalidConfigError, match='environment variable "DAGSTER_PG_HOST" which is not set'):
        validate_instance(instance_copy(tmp_path))


def test_one_writer_rule_is_the_development_instances():
    """Same pool limit (1 per pool, whole runs), same run limit, same slot release after a crashed run."""
    dev, prod = load_yaml(ROOT / "dagster.yaml"), load_yaml(INSTANCE)
    assert prod["concurrency"] == dev["concurrency"]
    assert prod["concurrency"]["pools"] == {"default_limit": 1, "granularity": "run"}
    assert prod["run_monitoring"]["free_slots_after_run_end_seconds"] == dev["run_monitoring"]["free_slots_after_run_end_seconds"]
    assert prod["telemetry"] == dev["telemetry"] == {"enabled": False}


def test_every_variable_the_instance_reads_is_provided():
    """{env: X} in dagster.yaml: the Postgres ones from the dagster-postgres Secret, the rest from lifecycle-settings."""
    names = set(re.findall(r"\{env: (\w+)\}", INSTANCE.read_text()))
    settings = k8s_objects()[("ConfigMap", "lifecycle-settings")]["data"]
    assert names - set(settings) == set(PG_ENV)


def test_helm_values_express_the_same_instance():
    values, prod = load_yaml(DEPLOY / "helm" / "values.yaml"), load_yaml(INSTANCE)
    assert values["telemetry"] == {"enabled": False}
    assert values["postgresql"]["enabled"] is False
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"] == {"defaultLimit": 1, "granularity": "run"} == {
        "defaultLimit": prod["concurrency"]["pools"]["default_limit"],
        "granularity": prod["concurrency"]["pools"]["granularity"]}
    assert concurrency["runs"]["maxConcurrentRuns"] == prod["concurrency"]["runs"]["max_concurrent_runs"]
    coordinator = values["dagsterDaemon"]["runCoordinator"]
    assert coordinator["type"] == "QueuedRunCoordinator"
    assert not coordinator["config"]["queuedRunCoordinator"]  # limits set twice make the chart (and Dagster) fail
    monitoring = {re.sub(r"[A-Z]", lambda m: "_" + m.group().lower(), k): v
                  for k, v in values["dagsterDaemon"]["runMonitoring"].items()}
    assert monitoring == prod["run_monitoring"]
    assert values["computeLogManager"]["type"] == prod["compute_logs"]["class"]


def test_helm_runs_get_the_run_launchers_settings_not_the_code_servers():
    """With includeConfigInLaunchedRuns on, the code server's container context (its 1Gi limit) would win over
    runLauncher's resources in every run pod; runs are configured in runLauncher only, like dagster.yaml."""
    values, prod = load_yaml(DEPLOY / "helm" / "values.yaml"), load_yaml(INSTANCE)
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}
    helm_runs = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    prod_runs = prod["run_launcher"]["config"]
    assert helm_runs["resources"] == prod_runs["run_k8s_config"]["container_config"]["resources"]
    assert [m["name"] for m in helm_runs["envConfigMaps"]] == prod_runs["env_config_maps"]
    assert helm_runs["volumes"] == prod_runs["volumes"]
    assert [(m["name"], m["mountPath"]) for m in helm_runs["volumeMounts"]] == [
        (m["name"], m["mount_path"]) for m in prod_runs["volume_mounts"]]


def test_code_location_is_the_projects():
    """Helm's gRPC server and the image's default command load the module pyproject names for Dagster."""
    module = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]["module_name"]
    (deployment,) = load_yaml(DEPLOY / "helm" / "values.yaml")["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    importlib.import_module(module)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert f'"-m", "{module}"' in dockerfile


def test_dockerfile_installs_an_existing_extra_and_runs_as_the_volume_group():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(re.findall(r"pip install (?:--no-deps )?-e '\.\[(\w+)\]'", (DEPLOY / "Dockerfile").read_text()))
    assert extras and extras <= set(project["optional-dependencies"])
    uid = int(re.search(r"USER (\d+)", (DEPLOY / "Dockerfile").read_text()).group(1))
    objects = k8s_objects()
    for kind, name in (("StatefulSet", "lifecycle-receiver"), ("Deployment", "lifecycle-dashboard")):
        assert objects[(kind, name)]["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == uid
    assert load_yaml(INSTANCE)["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"]["security_context"][
        "fs_group"] == uid


def test_settings_live_on_the_volume_every_pod_mounts():
    """Warehouse, snapshot, landing zone and reports are under /data, where runs, receiver and dashboard mount it."""
    objects = k8s_objects()
    settings = objects[("ConfigMap", "lifecycle-settings")]["data"]
    claim = load_yaml(INSTANCE)["run_launcher"]["config"]["volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in objects
    (mount,) = load_yaml(INSTANCE)["run_launcher"]["config"]["volume_mounts"]
    for name in ("LIFECYCLE_WAREHOUSE", "LIFECYCLE_SERVING", "LIFECYCLE_LANDING", "LIFECYCLE_REPORTS"):
        assert Path(settings[name]).is_relative_to(mount["mount_path"]), name
    for kind, name in (("StatefulSet", "lifecycle-receiver"), ("Deployment", "lifecycle-dashboard")):
        pod = objects[(kind, name)]["spec"]["template"]["spec"]
        assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
        assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == mount["mount_path"]


def test_receiver_replicas_write_where_the_loader_reads(tmp_path):
    """Each replica writes its own directory inside LIFECYCLE_LANDING (which the sensor and the load read);
    probes are the receiver's routes; the grace period outlasts its 30 s drain."""
    from pipelines.receiver.app import create_app
    from pipelines.receiver.settings import Settings

    objects = k8s_objects()
    landing = objects[("ConfigMap", "lifecycle-settings")]["data"]["LIFECYCLE_LANDING"]
    pod = objects[("StatefulSet", "lifecycle-receiver")]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    assert args[0] == "serve"
    replica_dir = args[args.index("--landing") + 1]
    assert Path(replica_dir).is_relative_to(landing) and replica_dir.endswith("/$(POD_NAME)")
    assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
    settings = Settings(landing=tmp_path)
    assert pod["terminationGracePeriodSeconds"] > settings.graceful_timeout_seconds
    routes = {route.path for route in create_app(settings).routes}
    assert {container["livenessProbe"]["httpGet"]["path"], container["readinessProbe"]["httpGet"]["path"]} <= routes
