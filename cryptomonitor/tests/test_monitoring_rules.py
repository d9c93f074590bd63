"""deploy/prometheus and deploy/grafana as docker-compose.yml runs them, checked by promtool.

`promtool check config` and `promtool check rules` read the files the
`monitoring` profile mounts; `promtool test rules` runs rules_test.yml, whose
cases make every alert fire and not fire. Skipped when promtool is not
installed (make prometheus installs it), except in CI (CI=true), where a
missing promtool fails the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = BASE_DIR / "deploy" / "prometheus"
GRAFANA_DIR = BASE_DIR / "deploy" / "grafana"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROCESS_KINDS = {"web", "ws", "worker", "notifications", "beat"}

needs_promtool = pytest.mark.skipif(
    not os.access(PROMTOOL, os.X_OK) and os.environ.get("CI") != "true",
    reason="promtool is not installed (make prometheus, or apt-get install prometheus)",
)


def promtool(*args: str, cwd: Path = PROMETHEUS_DIR) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 (fixed argv)
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def config() -> dict:
    return load(PROMETHEUS_DIR / "prometheus.yml")


@pytest.fixture(scope="module")
def compose() -> dict:
    return load(BASE_DIR / "docker-compose.yml")


def alert_names() -> set[str]:
    rules = load(PROMETHEUS_DIR / "rules.yml")
    return {
        rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule
    }


def compose_secret_path(compose: dict) -> str:
    [secret] = compose["services"]["prometheus"]["secrets"]
    return f"/run/secrets/{secret}"


def checkable_copy(tmp_path: Path, compose: dict, rules: str | None = None) -> Path:
    """deploy/prometheus in `tmp_path`, the compose secret's path pointing at a real file.

    promtool checks that the credentials file exists; in the container compose
    mounts it, here a token file stands in. `rules` replaces rules.yml's text.
    """
    token = tmp_path / "metrics_token"
    token.write_text("a-token\n")
    for name in ("prometheus.yml", "rules.yml", "rules_test.yml"):
        shutil.copy(PROMETHEUS_DIR / name, tmp_path / name)
    config = tmp_path / "prometheus.yml"
    secret = compose_secret_path(compose)
    assert secret in config.read_text()
    config.write_text(config.read_text().replace(secret, str(token)))
    if rules is not None:
        (tmp_path / "rules.yml").write_text(rules)
    return config


@needs_promtool
def test_the_prometheus_config_and_the_rules_it_loads_are_valid(
    tmp_path: Path, compose: dict
) -> None:
    config = checkable_copy(tmp_path, compose)

    result = promtool("check", "config", str(config), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout + result.stderr


@needs_promtool
def test_the_alerting_rules_are_valid() -> None:
    result = promtool("check", "rules", "rules.yml")

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_names())} rules found" in result.stdout + result.stderr


@needs_promtool
def test_the_rules_unit_tests_pass() -> None:
    result = promtool("test", "rules", "rules_test.yml")

    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_unit_tests_catch_a_rule_that_sums_what_every_web_target_serves(
    tmp_path: Path, compose: dict
) -> None:
    # web and ws both serve the scrape-time gauges: summing them doubles them.
    rules = (PROMETHEUS_DIR / "rules.yml").read_text()
    summing = rules.replace(
        "max(cryptomonitor_feed_age_seconds)", "sum(cryptomonitor_feed_age_seconds)"
    )
    assert summing != rules
    checkable_copy(tmp_path, compose, rules=summing)

    result = promtool("test", "rules", "rules_test.yml", cwd=tmp_path)

    assert result.returncode == 1
    assert "a fresh feed served by two targets is not stale" in result.stdout + result.stderr


def test_the_unit_tests_make_every_alert_fire_and_not_fire() -> None:
    cases = load(PROMETHEUS_DIR / "rules_test.yml")["tests"]
    checks = [check for case in cases for check in case["alert_rule_test"]]
    firing = {check["alertname"] for check in checks if check["exp_alerts"]}
    silent = {check["alertname"] for check in checks if not check["exp_alerts"]}

    assert firing == alert_names()
    assert silent == alert_names()


def test_every_alert_has_a_severity_and_a_summary_and_is_documented() -> None:
    rules = load(PROMETHEUS_DIR / "rules.yml")
    docs = (BASE_DIR / "docs" / "monitoring.md").read_text()

    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
            assert rule["annotations"]["summary"], rule["alert"]
            assert f"`{rule['alert']}`" in docs, rule["alert"]


def test_prometheus_scrapes_every_process_kind_of_compose(config: dict, compose: dict) -> None:
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    assert set(jobs) == PROCESS_KINDS
    assert PROCESS_KINDS <= set(compose["services"])
    for name, job in jobs.items():
        # Every replica of the service, found in Docker's DNS.
        [discovery] = job["dns_sd_configs"]
        assert discovery["names"] == [name]
        assert discovery["type"] == "A"


def test_web_and_ws_are_scraped_with_the_compose_secret_token(config: dict, compose: dict) -> None:
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    secrets = compose["secrets"]

    assert secrets == {"metrics_token": {"environment": "METRICS_TOKEN"}}
    for name, port in (("web", 8000), ("ws", 8001)):
        assert jobs[name]["metrics_path"] == "/metrics"
        assert jobs[name]["authorization"] == {
            "type": "Bearer",
            "credentials_file": compose_secret_path(compose),
        }
        assert jobs[name]["dns_sd_configs"][0]["port"] == port
        command = compose["services"][name]["command"]
        assert command[command.index("--port") + 1] == str(port)
        assert compose["services"][name]["environment"]["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"


@pytest.mark.parametrize("service", ["worker", "notifications", "beat"])
def test_the_celery_exporters_are_scraped_on_their_metrics_port(
    config: dict, compose: dict, service: str
) -> None:
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    port = compose["services"][service]["environment"]["METRICS_PORT"]

    assert jobs[service]["dns_sd_configs"][0]["port"] == int(port) == 9808
    assert "authorization" not in jobs[service]
    assert "ports" not in compose["services"][service]


@pytest.mark.parametrize("service", sorted(PROCESS_KINDS))
def test_every_django_container_keeps_its_metrics_in_a_tmpfs_of_its_own(
    compose: dict, service: str
) -> None:
    definition = compose["services"][service]
    directory = definition["environment"]["PROMETHEUS_MULTIPROC_DIR"]

    assert directory == "/run/cryptomonitor-metrics"
    assert definition["tmpfs"] == [directory]


@pytest.mark.parametrize("service", ["prometheus", "grafana"])
def test_the_monitoring_services_run_only_in_their_profile_on_loopback(
    compose: dict, service: str
) -> None:
    definition = compose["services"][service]

    assert definition["profiles"] == ["monitoring"]
    assert [port.split(":")[0] for port in definition["ports"]] == ["127.0.0.1"]
    assert definition["healthcheck"]["test"]


def test_prometheus_runs_the_config_of_the_repository_read_only(compose: dict) -> None:
    prometheus = compose["services"]["prometheus"]

    assert "./deploy/prometheus:/etc/prometheus:ro" in prometheus["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    assert load(PROMETHEUS_DIR / "prometheus.yml")["rule_files"] == ["rules.yml"]


def test_grafana_is_provisioned_read_only_from_the_repository(compose: dict) -> None:
    mounts = {
        source: (target, mode)
        for source, target, *mode in (
            volume.split(":") for volume in compose["services"]["grafana"]["volumes"]
        )
    }
    provider = load(GRAFANA_DIR / "provisioning" / "dashboards" / "dashboards.yml")["providers"]
    [datasource] = load(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]

    assert mounts["./deploy/grafana/provisioning"] == ("/etc/grafana/provisioning", ["ro"])
    dashboards, mode = mounts["./deploy/grafana/dashboards"]
    assert mode == ["ro"]
    assert [entry["options"]["path"] for entry in provider] == [dashboards]
    assert datasource["url"] == "http://prometheus:9090"
    assert datasource["uid"] == "prometheus"


def dashboard_targets() -> list[dict]:
    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "cryptomonitor.json").read_text())
    return [target for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_every_dashboard_query_uses_the_provisioned_data_source_and_rate_interval() -> None:
    targets = dashboard_targets()

    assert targets
    for target in targets:
        assert target["datasource"] == {"type": "prometheus", "uid": "prometheus"}
        # Ranges follow the scrape interval and zoom: no fixed [5m] in rates.
        assert set(re.findall(r"\[([^\]]+)\]", target["expr"])) <= {"$__rate_interval"}


@needs_promtool
def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    # promtool parses recording rules: one per query, Grafana's variable filled in.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {
                        "record": f"dashboard:query_{n}",
                        "expr": target["expr"].replace("$__rate_interval", "1m"),
                    }
                    for n, target in enumerate(dashboard_targets())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump(rules))

    result = promtool("check", "rules", str(path), cwd=tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
