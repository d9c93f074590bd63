"""docker-compose.yml's service commands and variables, for running them locally.

The proxy test (cryptomonitor/tests/test_nginx_proxy.py) and bench/api.py
start the servers with compose's own command lines, so neither can drift from
what production runs.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"


def compose_service(service: str) -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())["services"][service]


def compose_command(service: str, listen_port: str, port: int) -> list[str]:
    """docker-compose.yml's command of `service`, on 127.0.0.1:`port` instead."""
    # Compose's ${NAME:-default} substitutions take their defaults.
    command = [
        re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", part) for part in compose_service(service)["command"]
    ]
    if "0.0.0.0" not in command or listen_port not in command:  # noqa: S104 (compose's, read)
        raise ValueError(f"compose's {service} no longer listens on 0.0.0.0 {listen_port}")
    local = {"0.0.0.0": "127.0.0.1", listen_port: str(port)}  # noqa: S104 (replaced)
    return [local.get(part, part) for part in command]


# Paths inside the container (its tmpfs), which a local run does not have.
CONTAINER_ONLY = frozenset({"PROMETHEUS_MULTIPROC_DIR"})


def compose_environment(service: str) -> dict[str, str]:
    """The literal variables compose gives `service` (not those built from .env).

    Without the container's own paths: a local process keeps the default
    in-process metrics registry.
    """
    return {
        name: value
        for name, value in compose_service(service)["environment"].items()
        if "${" not in value and name not in CONTAINER_ONLY
    }
