"""Who runs where: the test hosts, their addresses and the ports they serve.

One private /24 on a bridge that has no address on the machine itself and
no route out: the namespaces reach each other and nothing else (no default
route, IP forwarding untouched), so no process of the cluster can send a
packet beyond them, whatever it is configured to call.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

# Names carry a prefix of their own so teardown finds exactly what a run
# made, also after a crash, and nothing else on the machine.
NAMESPACE_PREFIX = "cmc-"
HOST_VETH_PREFIX = "cmh-"
BRIDGE = "cmc-br0"
SUBNET = ipaddress.ip_network("10.77.0.0/24")

# Host name -> last octet of its address.
HOST_OCTETS = {
    "lb": 2,
    "db": 10,
    "redis": 11,
    "node-a": 21,
    "node-b": 22,
    "beat": 30,
    "mail": 40,
    "feed": 50,
    "clients": 100,
}
NODES = ("node-a", "node-b")

POSTGRES_PORT = 5432
REDIS_PORT = 6379
WEB_PORT = 8000  # granian on each node, and nginx on lb (as docker-compose.yml)
WS_PORT = 8001  # daphne on each node
SMTP_PORT = 1025
FEED_PORT = 8080
# Each Celery process's metrics exporter (docker-compose.yml: METRICS_PORT).
METRICS_PORTS = {"worker": 9808, "notifications": 9809, "beat": 9810}


@dataclass(frozen=True)
class Sizes:
    """How many processes and threads each node runs.

    docker-compose.yml's defaults are for a host of its own: 2 granian
    workers, 4 prefork Celery processes. Here two nodes share the machine's
    2 cores, so each node gets half of that by default.
    """

    web_workers: int = 1
    web_blocking_threads: int = 4
    worker_concurrency: int = 2
    notifications_concurrency: int = 16


@dataclass(frozen=True)
class Topology:
    subnet: ipaddress.IPv4Network = SUBNET
    sizes: Sizes = field(default_factory=Sizes)

    @property
    def hosts(self) -> tuple[str, ...]:
        return tuple(HOST_OCTETS)

    def address(self, host: str) -> str:
        return str(self.subnet.network_address + HOST_OCTETS[host])

    @property
    def prefix_length(self) -> int:
        return self.subnet.prefixlen

    @staticmethod
    def namespace(host: str) -> str:
        return f"{NAMESPACE_PREFIX}{host}"

    @staticmethod
    def host_veth(host: str) -> str:
        # Interface names stop at 15 characters: "cmh-clients" is 11.
        return f"{HOST_VETH_PREFIX}{host}"

    @property
    def lb_url(self) -> str:
        return f"http://{self.address('lb')}:{WEB_PORT}"

    @property
    def feed_origin(self) -> str:
        return f"http://{self.address('feed')}:{FEED_PORT}"
