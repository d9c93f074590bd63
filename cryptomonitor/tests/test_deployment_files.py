"""docker-compose.yml, Dockerfile, .env.example, Procfile and README stay true to the code.

No Docker engine runs the tests, so they read the files and check what can be
checked without one: services, health checks, start order, that every
variable handed to the app is one it reads, and that every variable the
settings read is documented.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from honcho.environ import parse_procfile

from cryptomonitor.celery import app as celery_app

BASE_DIR = Path(__file__).resolve().parents[2]
DJANGO_SERVICES = ("web", "ws", "worker", "notifications", "beat")
SETTING_VARIABLE = re.compile(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"")
SCRIPT_VARIABLE = re.compile(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]*)\"|\$\{([A-Z][A-Z0-9_]*)")
DOCUMENTED_VARIABLE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def read(name: str) -> str:
    return (BASE_DIR / name).read_text()


def settings_variables() -> set[str]:
    return set(SETTING_VARIABLE.findall(read("cryptomonitor/settings.py")))


def docker_script_variables() -> set[str]:
    found: set[str] = set()
    for path in (BASE_DIR / "docker").iterdir():
        for groups in SCRIPT_VARIABLE.findall(path.read_text()):
            found.update(name for name in groups if name)
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(read("docker-compose.yml"))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return read("Dockerfile")


def final_stage(dockerfile: str) -> str:
    return dockerfile.rsplit("\nFROM ", 1)[-1]


def test_the_settings_read_the_variables_the_issue_names() -> None:
    # Guards the regex the other tests rely on as much as the settings.
    assert {
        "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS",
        "CSRF_TRUSTED_ORIGINS", "COINGECKO_BASE_URL", "COINGECKO_API_KEY", "COINGECKO_API_PLAN",
        "PRICE_POLL_SECONDS", "TRACKED_COINS", "VS_CURRENCY", "PRICE_SOURCE", "EMAIL_URL",
        "DEFAULT_FROM_EMAIL", "CHANNEL_LAYER_BACKEND",
    } <= settings_variables()  # fmt: skip


def test_env_example_documents_every_setting() -> None:
    documented = set(DOCUMENTED_VARIABLE.findall(read(".env.example")))

    assert settings_variables() - documented == set()


def test_env_example_documents_every_container_variable() -> None:
    documented = set(DOCUMENTED_VARIABLE.findall(read(".env.example")))

    assert docker_script_variables() - {"DJANGO_MIGRATE"} - documented == set()


def test_readme_documents_every_setting() -> None:
    readme = read("README.md")

    assert {name for name in settings_variables() if f"`{name}`" not in readme} == set()


def test_compose_runs_the_whole_product(compose: dict) -> None:
    assert set(compose["services"]) == {
        "postgres", "redis", "proxy", "web", "ws", "worker", "notifications", "beat", "mailpit",
        "prometheus", "grafana",
    }  # fmt: skip
    assert compose["services"]["postgres"]["image"].startswith("postgres:16")
    assert compose["services"]["redis"]["image"].startswith("redis:7")
    assert compose["services"]["mailpit"]["image"].startswith("axllent/mailpit")


def check_compose_schema(path: Path) -> subprocess.CompletedProcess:
    # The check `make lint` and `make test` run. The proxy variables point at
    # a closed loopback port, so a schema download would fail the check: it
    # must work offline, from the schema check-jsonschema ships.
    offline = "http://127.0.0.1:9"
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(path)],
        env={**os.environ, "HTTP_PROXY": offline, "HTTPS_PROXY": offline, "NO_PROXY": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def test_the_compose_file_follows_the_compose_specification() -> None:
    result = check_compose_schema(BASE_DIR / "docker-compose.yml")

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_reports_a_misspelt_key(tmp_path: Path) -> None:
    misspelt = tmp_path / "docker-compose.yml"
    misspelt.write_text(read("docker-compose.yml").replace("healthcheck:", "healthchek:", 1))

    result = check_compose_schema(misspelt)

    assert result.returncode == 1
    assert "'healthchek' was unexpected" in result.stdout


def test_web_worker_and_beat_run_one_image(compose: dict) -> None:
    services = compose["services"]

    assert len({services[name]["image"] for name in DJANGO_SERVICES}) == 1
    assert {services[name]["build"] for name in DJANGO_SERVICES} == {"."}
    assert "x-django" in compose


@pytest.mark.parametrize(
    "service", ["postgres", "redis", "proxy", "web", "ws", "worker", "notifications", "mailpit"]
)
def test_it_health_checks_the_servers(compose: dict, service: str) -> None:
    assert compose["services"][service]["healthcheck"]["test"]


def test_the_database_health_check_uses_pg_isready(compose: dict) -> None:
    assert "pg_isready" in " ".join(compose["services"]["postgres"]["healthcheck"]["test"])


def test_the_redis_health_check_pings(compose: dict) -> None:
    assert compose["services"]["redis"]["healthcheck"]["test"][-2:] == ["redis-cli", "ping"]


def test_the_web_health_check_asks_healthz(compose: dict) -> None:
    check = compose["services"]["web"]["healthcheck"]["test"]

    assert check[-1].endswith("/healthz")
    assert (BASE_DIR / check[-2].removeprefix("/app/")).is_file()


@pytest.mark.parametrize("service", DJANGO_SERVICES)
def test_django_services_wait_for_a_healthy_database_and_redis(compose: dict, service) -> None:
    depends_on = compose["services"][service]["depends_on"]

    assert depends_on["postgres"] == {"condition": "service_healthy"}
    assert depends_on["redis"] == {"condition": "service_healthy"}


@pytest.mark.parametrize("service", ["ws", "worker", "notifications", "beat"])
def test_worker_and_beat_start_after_web_has_migrated(compose: dict, service: str) -> None:
    assert compose["services"][service]["depends_on"]["web"] == {"condition": "service_healthy"}


def test_only_web_migrates(compose: dict) -> None:
    migrating = {
        name
        for name, service in compose["services"].items()
        if service.get("environment", {}).get("DJANGO_MIGRATE") == "1"
    }

    assert migrating == {"web"}


def test_every_long_running_service_restarts(compose: dict) -> None:
    assert {name: s.get("restart") for name, s in compose["services"].items()} == dict.fromkeys(
        compose["services"], "unless-stopped"
    )


def test_only_the_proxy_publishes_the_app(compose: dict) -> None:
    services = compose["services"]

    assert services["proxy"]["ports"] == ["${WEB_PORT:-8000}:8000"]
    assert "ports" not in services["web"]
    assert "ports" not in services["ws"]
    assert services["proxy"]["depends_on"] == {
        "web": {"condition": "service_healthy", "restart": True},
        "ws": {"condition": "service_healthy", "restart": True},
    }


def published_addresses(service: dict) -> list[str]:
    """The host address each published port of `service` binds ("" is every interface)."""
    addresses = []
    for port in service.get("ports", []):
        if isinstance(port, dict):  # the long syntax
            addresses.append(port.get("host_ip", ""))
            continue
        # [HOST_IP:]HOST_PORT:CONTAINER_PORT, where ${NAME:-default} may hold a colon.
        parts = re.sub(r"\$\{[^}]*\}", "VALUE", str(port)).split(":")
        addresses.append(parts[0] if len(parts) == 3 else "")
    return addresses


def test_tools_publish_their_ports_on_loopback_only(compose: dict) -> None:
    # Mailpit's UI shows every mail, password reset links included, without a
    # login: nothing but the app itself may listen beyond the host.
    services = compose["services"]
    beyond_loopback = {
        name: addresses
        for name, service in services.items()
        if name != "proxy"
        and (addresses := published_addresses(service))
        and set(addresses) != {"127.0.0.1"}
    }

    assert beyond_loopback == {}
    assert published_addresses(services["mailpit"]) == ["127.0.0.1"]


def test_the_readme_says_how_to_reach_mailpit_from_elsewhere() -> None:
    readme = read("README.md")

    assert "ssh -N -L 8025:127.0.0.1:8025" in readme


def test_the_proxy_finds_recreated_servers_again(compose: dict) -> None:
    config = read("docker/nginx.conf")
    version = re.fullmatch(r"nginx:(\d+)\.(\d+)-alpine", compose["services"]["proxy"]["image"])

    # Open-source nginx re-resolves upstream names (`resolve`) since 1.27.3.
    assert version and tuple(map(int, version.groups())) >= (1, 28)
    assert re.search(r"^\s*resolver 127\.0\.0\.11 ", config, re.MULTILINE)
    assert "server web:8000 resolve;" in config
    assert "server ws:8001 resolve;" in config


def test_the_proxy_runs_the_nginx_config_of_the_repository(compose: dict) -> None:
    [mount] = compose["services"]["proxy"]["volumes"]
    source, target, mode = mount.split(":")
    config = (BASE_DIR / source).read_text()

    assert (target, mode) == ("/etc/nginx/nginx.conf", "ro")
    assert "server web:8000 resolve;" in config
    assert "server ws:8001 resolve;" in config
    assert re.search(r"location /ws/ \{[^}]*proxy_pass http://ws_app;", config)


def test_web_serves_the_wsgi_app_and_ws_the_asgi_app(compose: dict) -> None:
    web = compose["services"]["web"]["command"]
    ws = compose["services"]["ws"]["command"]

    assert web[-1] == "cryptomonitor.wsgi:application"
    assert ws[0] == "daphne"
    assert ws[-1] == "cryptomonitor.asgi:application"
    assert (BASE_DIR / "cryptomonitor" / "wsgi.py").is_file()


def test_only_the_wsgi_workers_keep_database_connections(compose: dict) -> None:
    services = compose["services"]

    assert services["web"]["environment"]["DB_CONN_MAX_AGE"] == "60"
    assert services["ws"]["environment"]["DB_CONN_MAX_AGE"] == "0"


def test_ws_runs_ws_processes_daphne_replicas_behind_nginx(compose: dict) -> None:
    ws = compose["services"]["ws"]

    assert ws["deploy"]["replicas"] == "${WS_PROCESSES:-2}"
    # One daphne per container, which Docker restarts: no supervisor of our own.
    assert ws["command"][0] == "daphne"
    assert "--fd" not in ws["command"]
    # nginx re-resolves the service name, so it finds every replica.
    assert "server ws:8001 resolve;" in read("docker/nginx.conf")
    assert "WS_PROCESSES=" in read(".env.example")
    assert "`WS_PROCESSES`" in read("README.md")


def test_data_lives_in_named_volumes(compose: dict) -> None:
    services = compose["services"]

    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    assert services["redis"]["volumes"] == ["redis-data:/data"]
    assert services["prometheus"]["volumes"][-1] == "prometheus-data:/prometheus"
    assert services["grafana"]["volumes"][-1] == "grafana-data:/var/lib/grafana"
    assert set(compose["volumes"]) == {
        "postgres-data", "redis-data", "prometheus-data", "grafana-data",
    }  # fmt: skip


@pytest.mark.parametrize("service", DJANGO_SERVICES)
def test_every_variable_passed_to_the_app_is_read_by_it(compose: dict, service: str) -> None:
    passed = set(compose["services"][service]["environment"])

    assert passed - settings_variables() - docker_script_variables() == set()
    assert compose["services"][service]["env_file"] == ".env"


def test_beat_uses_the_database_scheduler(compose: dict) -> None:
    command = compose["services"]["beat"]["command"]

    assert command[command.index("-S") + 1] == "django_celery_beat.schedulers:DatabaseScheduler"


def test_the_image_entrypoint_and_command_exist(dockerfile: str) -> None:
    stage = final_stage(dockerfile)
    entrypoint = json.loads(re.search(r"^ENTRYPOINT (.+)$", stage, re.MULTILINE).group(1))
    command = json.loads(re.search(r"^CMD (.+)$", stage, re.MULTILINE).group(1))
    script = BASE_DIR / entrypoint[0].removeprefix("/app/")

    assert script.is_file()
    assert os.access(script, os.X_OK)
    assert command[0] == "daphne"
    module = command[-1].split(":")[0]
    assert (BASE_DIR / (module.replace(".", "/") + ".py")).is_file()


def test_the_image_runs_as_a_non_root_user_without_debug(dockerfile: str) -> None:
    stage = final_stage(dockerfile)

    assert stage.startswith("python:3.11-slim")
    assert re.search(r"^USER app$", stage, re.MULTILINE)
    assert "DEBUG=False" in stage


def test_the_image_builds_its_assets_from_the_lockfiles(dockerfile: str) -> None:
    assert "npm ci" in dockerfile
    assert "--constraint requirements.lock" in dockerfile
    assert "collectstatic --noinput" in final_stage(dockerfile)


def test_the_image_collects_static_files_with_a_throwaway_key(dockerfile: str) -> None:
    # The image runs with DEBUG=False, whose settings refuse a missing or
    # published SECRET_KEY: the build makes a random one for collectstatic
    # alone and keeps none (no ENV or ARG of it).
    stage = final_stage(dockerfile)
    step = re.search(
        r"RUN SECRET_KEY=\"\$\(python -c '([^']*)'\)\"\s*\\\s*"
        r"python manage.py (collectstatic[^\\]*)",
        stage,
    )
    assert step, "collectstatic no longer runs with a key made for it"
    make_key, command = step.groups()
    assert not re.search(r"^(ENV|ARG)\b[^\n]*SECRET_KEY", stage, re.MULTILINE)
    key = subprocess.run(
        [sys.executable, "-c", make_key], capture_output=True, text=True, check=True
    ).stdout.strip()
    image_environment = dict(re.findall(r"\b(DJANGO_SETTINGS_MODULE|DEBUG)=(\S+)", stage))

    result = subprocess.run(
        [sys.executable, "manage.py", *command.split(), "--dry-run"],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], **image_environment, "SECRET_KEY": key},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert image_environment["DEBUG"] == "False"
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_entrypoint_is_strict_and_execs_the_process() -> None:
    script = read("docker/entrypoint.sh")

    assert "set -o errexit -o nounset" in script
    assert script.rstrip().endswith('exec "$@"')


def test_the_procfile_runs_web_worker_and_beat() -> None:
    processes = parse_procfile(read("Procfile")).processes

    assert list(processes) == ["web", "worker", "notifications", "beat"]
    assert processes["web"].startswith("daphne -b 127.0.0.1 -p ${PORT:-8000} ")
    assert "django_celery_beat.schedulers:DatabaseScheduler" in processes["beat"]


def worker_queues(command: list[str]) -> list[str] | None:
    """The queues a `celery worker` command consumes (-Q), None for other commands."""
    if "worker" not in command:
        return None
    assert "-Q" in command, f"a worker without -Q takes only the default queue: {command}"
    return command[command.index("-Q") + 1].split(",")


@pytest.mark.parametrize("source", ["compose", "Procfile"])
def test_deliveries_have_a_queue_and_a_worker_of_their_own(compose: dict, source: str) -> None:
    # A slow send must never hold the worker polls and evaluation wait for.
    default = celery_app.conf.task_default_queue
    deliveries = {
        celery_app.amqp.router.route({}, f"notifications.tasks.{task}")["queue"].name
        for task in ("deliver_notification", "deliver_notifications")
    }
    assert deliveries == {"notifications"} != {default}
    if source == "compose":
        commands = [service.get("command") or [] for service in compose["services"].values()]
    else:
        commands = [line.split() for line in parse_procfile(read("Procfile")).processes.values()]
    consumed = [queues for command in commands if (queues := worker_queues(command))]

    assert sorted(consumed) == [[default], ["notifications"]]
