"""The monitoring end to end: `make run`'s stack scraped by a real Prometheus with our rules.

scripts/local_stack.py runs the Procfile with simulated prices every 2 s on a
database of its own; a user's alert fires on the first batch after it is
created. Debian's Prometheus scrapes the one daphne's /metrics (every process's
series, from the run's multiprocess directory; loopback needs no token) every
second with deploy/prometheus/rules.yml loaded. Then, through Prometheus's
HTTP API: polls, evaluations, the firing and its delivery are counted, every
query of the Grafana dashboard returns data, and every rule's expression
parses, evaluates and names only metrics that have series. Skipped when
Prometheus is not installed (make prometheus), except in CI (CI=true).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import yaml

from cryptomonitor.tests.test_local_stack import RunningStack, base_environment, wait_for_good_feed
from scripts.local_stack import BASE_DIR, free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
RULES = BASE_DIR / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = BASE_DIR / "deploy" / "grafana" / "dashboards" / "cryptomonitor.json"
# Grafana's variables, as it would fill them with a 1 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "10s", "$__interval": "1s", "$__range": "30s"}
# Words of PromQL that are not metric names.
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
    "bool", "offset", "inf", "nan",
}  # fmt: skip
SECONDS_TO_COUNT = 40

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
if not os.access(PROMETHEUS, os.X_OK) and os.environ.get("CI") != "true":
    pytestmark.append(pytest.mark.skip(reason="prometheus is not installed (make prometheus)"))

# Run in the stack's database before the stack starts: the schema, one user
# and an alert that is true at any price, on a tracked coin the simulated
# source prices.
CREATE_FIRING_ALERT = """
from decimal import Decimal
from django.contrib.auth import get_user_model
from django.core.management import call_command
from alerts.models import Alert
from prices.models import Coin
call_command("migrate", verbosity=0)
user = get_user_model().objects.create_user("monitor", "monitor@example.com", "pass-phrase-9")
coin = Coin.objects.create(
    coingecko_id="bitcoin", symbol="btc", name="Bitcoin", is_tracked=True, tracked_by_setting=True
)
# every_time: still active once fired, so every batch evaluates it.
Alert.objects.create(
    user=user, coin=coin, condition="above", target=Decimal("0.00000001"), channels=["in_app"],
    frequency="every_time", cooldown_seconds=60,
)
"""


@pytest.fixture
def database_with_an_alert() -> Iterator[str]:
    """A database of its own on the test server, with an alert that fires at once."""
    test_database = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
    name = f"{test_database.path.lstrip('/')}_monitored"
    admin = test_database._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = test_database._replace(path=f"/{name}").geturl()
    # No Redis is needed here; a closed port makes sure none is touched.
    env = base_environment(url) | {"REDIS_URL": "redis://127.0.0.1:9/0"}
    result = subprocess.run(  # noqa: S603 (fixed argv)
        [sys.executable, "manage.py", "shell", "-c", CREATE_FIRING_ALERT],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def stack(tmp_path: Path, database_with_an_alert: str) -> Iterator[RunningStack]:
    running = RunningStack(tmp_path, database_with_an_alert)
    yield running
    try:
        running.stop()
    finally:
        running.kill_leftovers()


class Prometheus:
    """Debian's prometheus on a free loopback port, scraping the stack every second."""

    def __init__(self, workdir: Path, app_port: int) -> None:
        self.port = free_port()
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            # The job the Docker deployment gives the web's /metrics.
            "scrape_configs": [
                {"job_name": "web", "static_configs": [{"targets": [f"127.0.0.1:{app_port}"]}]}
            ],
        }
        config_path = workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        self.log_path = workdir / "prometheus.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
                [
                    PROMETHEUS,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={workdir / 'prometheus-data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_ready(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self._url("/-/ready"), timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"prometheus never became ready:\n{self.log()[-3000:]}")

    def query(self, promql: str) -> list[dict]:
        """The instant query's result; fails the test on an error (a parse error too)."""
        url = self._url("/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                body = json.load(response)
        except urllib.error.HTTPError as error:
            body = json.load(error)
        assert body["status"] == "success", f"{promql}: {body.get('error')}"
        return body["data"]["result"]

    def rules(self) -> list[dict]:
        with urllib.request.urlopen(self._url("/api/v1/rules"), timeout=5) as response:
            groups = json.load(response)["data"]["groups"]
        return [rule for group in groups for rule in group["rules"]]

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def prometheus(tmp_path: Path, stack: RunningStack) -> Iterator[Prometheus]:
    server = Prometheus(tmp_path, stack.port)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


def wait_for_series(prometheus: Prometheus, stack: RunningStack, queries: list[str]) -> None:
    """Until every query returns something, within SECONDS_TO_COUNT."""
    deadline = time.monotonic() + SECONDS_TO_COUNT
    missing = queries
    while time.monotonic() < deadline:
        missing = [promql for promql in queries if not prometheus.query(promql)]
        if not missing:
            return
        time.sleep(0.25)
    raise AssertionError(f"no data for {missing}:\n{stack.output()[-3000:]}")


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            queries.append(expr)
    return queries


def metric_names(promql: str) -> set[str]:
    """The metric names an expression selects (no functions, labels, keywords or numbers)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", promql)  # strings
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        word = match.group(0)
        is_function = text[match.end() :].lstrip().startswith("(")
        if not is_function and word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


def rule_expressions() -> dict[str, str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return {
        rule.get("alert") or rule["record"]: rule["expr"] for g in groups for rule in g["rules"]
    }


def test_metric_names_finds_the_names_and_only_them() -> None:
    # Guards the parsing the stack test relies on.
    promql = (
        'sum by (channel) (increase(a_total{outcome="failed"}[10m])) / ignoring (x) b'
        ' > 0.1 and max(up{job=~"web|ws"}) == 0 or absent(c_seconds_bucket)'
    )

    assert metric_names(promql) == {"a_total", "b", "up", "c_seconds_bucket"}


def test_prometheus_sees_the_whole_pipeline_and_every_dashboard_and_rule_query(
    stack: RunningStack, prometheus: Prometheus
) -> None:
    wait_for_good_feed(stack)

    wait_for_series(
        prometheus,
        stack,
        [
            'cryptomonitor_polls_total{outcome="ok"} > 0',
            "cryptomonitor_alert_batches_evaluated_total > 0",
            "cryptomonitor_alerts_evaluated_total > 0",
            'cryptomonitor_alerts_fired_total{condition="above"} > 0',
            'cryptomonitor_deliveries_total{channel="in_app", outcome="sent"} > 0',
        ],
    )
    # Rates need two samples inside the shortest window (10 s at 1 s scrapes):
    # every dashboard query returns data soon after (it failed before).
    wait_for_series(prometheus, stack, dashboard_queries())
    for name, expr in rule_expressions().items():
        prometheus.query(expr)  # parses and evaluates
        without_series = [
            metric
            for metric in sorted(metric_names(expr))
            if not prometheus.query(f'count({{__name__="{metric}"}})')
        ]
        assert without_series == [], name
    broken = {rule["name"]: rule.get("lastError") for rule in prometheus.rules()}
    assert {name: error for name, error in broken.items() if error} == {}
    assert set(broken) == set(rule_expressions())
