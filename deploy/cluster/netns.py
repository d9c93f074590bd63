"""Network namespaces on a bridge: create, cut, degrade and remove test hosts.

Everything here shells out to iproute2 (`ip`, `tc`) as root. Teardown works
from names alone (the prefixes in topology.py), so it also cleans up after a
run that crashed or was killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from deploy.cluster.topology import BRIDGE, HOST_VETH_PREFIX, NAMESPACE_PREFIX, Topology

NETNS_DIR = Path("/run/netns")
IP = shutil.which("ip") or "/usr/sbin/ip"
TC = shutil.which("tc") or "/usr/sbin/tc"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")


class NetworkError(RuntimeError):
    """An `ip` or `tc` command failed; the message carries its output."""


class NetemUnavailable(NetworkError):
    """This kernel has no netem qdisc (sch_netem), so no delay or loss can be added."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([IP, *args], check=check)


def tc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run([TC, *args], check=check)


def exec_argv(namespace: str, argv: Iterable[str]) -> list[str]:
    """`argv` run inside the namespace (`ip netns exec`, which execs it: same pid)."""
    return [IP, "netns", "exec", namespace, *argv]


def _run(argv: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if check and done.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {done.stderr.strip() or done.stdout.strip()}")
    return done


def check_subnet_is_free(topology: Topology) -> None:
    """Refuse to start when the machine already uses an address or route in our subnet."""
    used = []
    for entry in json.loads(ip("-j", "-4", "addr").stdout or "[]"):
        if entry.get("ifname") == BRIDGE:
            continue
        for info in entry.get("addr_info", []):
            if _overlaps(topology, f"{info['local']}/{info['prefixlen']}"):
                used.append(f"address {info['local']} on {entry['ifname']}")
    for route in json.loads(ip("-j", "-4", "route").stdout or "[]"):
        if route.get("dev") != BRIDGE and route["dst"] != "default":
            if _overlaps(topology, route["dst"]):
                used.append(f"route {route['dst']} via {route.get('dev')}")
    if used:
        raise NetworkError(
            f"{topology.subnet} is already in use on this machine ({'; '.join(used)}); "
            "pick another private subnet (Topology(subnet=...))"
        )


def _overlaps(topology: Topology, network: str) -> bool:
    return ipaddress.ip_network(network, strict=False).overlaps(topology.subnet)


def create(topology: Topology) -> None:
    """The bridge, one namespace per host and a veth pair from each to the bridge."""
    check_subnet_is_free(topology)
    ip("link", "add", BRIDGE, "type", "bridge")
    _quiet_ipv6(f"/proc/sys/net/ipv6/conf/{BRIDGE}/disable_ipv6")
    ip("link", "set", BRIDGE, "up")
    for host in topology.hosts:
        namespace, veth = topology.namespace(host), topology.host_veth(host)
        ip("netns", "add", namespace)
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", namespace)
        _quiet_ipv6(f"/proc/sys/net/ipv6/conf/{veth}/disable_ipv6")
        ip("link", "set", veth, "master", BRIDGE, "up")
        address = f"{topology.address(host)}/{topology.prefix_length}"
        ip("-n", namespace, "addr", "add", address, "dev", "eth0")
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("-n", namespace, "link", "set", "eth0", "up")
        # No IPv6 either: no router solicitations or MLD reports on the bridge.
        in_namespace(namespace, lambda: _quiet_ipv6("/proc/sys/net/ipv6/conf/all/disable_ipv6"))


def _quiet_ipv6(path: str) -> None:
    with contextlib.suppress(OSError):
        Path(path).write_text("1")


def leftover_namespaces() -> list[str]:
    listed = ip("netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(NAMESPACE_PREFIX)]


def leftover_links() -> list[str]:
    links = json.loads(ip("-j", "link", "show", check=False).stdout or "[]")
    names = [link["ifname"] for link in links]
    return [n for n in names if n.startswith(HOST_VETH_PREFIX) or n == BRIDGE]


def pids_in(namespace: str) -> list[int]:
    """Every process whose network namespace is `namespace` (as `ip netns pids`)."""
    try:
        target = os.stat(NETNS_DIR / namespace)
    except FileNotFoundError:
        return []
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            mine = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:  # gone, or a kernel thread
            continue
        if (mine.st_ino, mine.st_dev) == (target.st_ino, target.st_dev):
            found.append(int(entry.name))
    return found


def signal_all(pids: Iterable[int], signum: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def stop_processes(namespaces: Iterable[str], grace_seconds: float) -> None:
    """SIGTERM every process in the namespaces; SIGKILL what still runs after the grace."""
    namespaces = list(namespaces)
    for namespace in namespaces:
        signal_all(pids_in(namespace), signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while time.monotonic() < deadline and any(pids_in(n) for n in namespaces):
        time.sleep(0.1)
    for namespace in namespaces:
        signal_all(pids_in(namespace), signal.SIGKILL)
    while any(pids_in(n) for n in namespaces):
        time.sleep(0.05)


def destroy(grace_seconds: float = 10.0, first: Iterable[str] = ()) -> list[str]:
    """Stop every process in our namespaces, then remove them, the veths and the bridge.

    The processes of the `first` namespaces stop before the others (the
    application before the database it would log errors about). Idempotent:
    works on whatever is left, and returns what it removed.
    """
    namespaces = leftover_namespaces()
    stop_processes([n for n in namespaces if n in set(first)], grace_seconds)
    stop_processes(namespaces, grace_seconds)
    removed = []
    for namespace in namespaces:
        ip("netns", "del", namespace, check=False)
        removed.append(f"namespace {namespace}")
    # A namespace's end takes its veth pair with it; the bridge stays.
    for link in leftover_links():
        ip("link", "del", link, check=False)
        removed.append(f"link {link}")
    return removed


# --- faults -------------------------------------------------------------------------


def set_link(topology: Topology, host: str, up: bool) -> None:
    """Take the host's cable out (down) or put it back (up): its bridge-side veth."""
    ip("link", "set", topology.host_veth(host), "up" if up else "down")


def _both_ends(topology: Topology, host: str) -> list[list[str]]:
    """`tc` arguments for both directions: towards the host, and from it."""
    return [
        ["dev", topology.host_veth(host)],
        ["-n", topology.namespace(host), "dev", "eth0"],
    ]


def _qdisc(topology: Topology, host: str, qdisc: list[str]) -> None:
    for end in _both_ends(topology, host):
        # `tc -n NS` must come before the object: split the prefix off.
        prefix, device = (end[:2], end[2:]) if end[0] == "-n" else ([], end)
        tc(*prefix, "qdisc", "replace", *device, "root", *qdisc)


def netem(topology: Topology, host: str, delay_ms: float = 0, loss_pct: float = 0) -> None:
    """Delay and drop packets in both directions of the host's link (sch_netem)."""
    args = ["netem"]
    if delay_ms:
        args += ["delay", f"{delay_ms}ms"]
    if loss_pct:
        args += ["loss", f"{loss_pct}%"]
    try:
        _qdisc(topology, host, args)
    except NetworkError as exc:
        clear_qdisc(topology, host)
        if "unknown" in str(exc).lower():
            raise NetemUnavailable(
                f"this kernel ({os.uname().release}) has no netem qdisc: {exc}"
            ) from exc
        raise


def throttle(topology: Topology, host: str, rate: str, queue_ms: int = 200) -> None:
    """Limit the host's link to `rate` (tc units, e.g. "1mbit") each way (tbf qdisc).

    Packets that wait longer than `queue_ms` are dropped: a congested link.
    """
    _qdisc(topology, host, ["tbf", "rate", rate, "burst", "32kbit", "latency", f"{queue_ms}ms"])


def clear_qdisc(topology: Topology, host: str) -> None:
    for end in _both_ends(topology, host):
        prefix, device = (end[:2], end[2:]) if end[0] == "-n" else ([], end)
        tc(*prefix, "qdisc", "del", *device, "root", check=False)


def netem_available(topology: Topology, host: str) -> bool:
    try:
        netem(topology, host, delay_ms=1)
    except NetemUnavailable:
        return False
    clear_qdisc(topology, host)
    return True


# --- running Python code inside a namespace -------------------------------------------


def _enter(namespace: str) -> None:
    """Move the calling thread (only it) into the namespace's network."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(NETNS_DIR / namespace, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"setns into {namespace}: {os.strerror(errno)}")
    finally:
        os.close(fd)


class InNamespace:
    """Threads whose sockets live in one network namespace.

    A socket belongs to the namespace of the thread that created it, so
    anything `call` runs (httpx, websockets in an event loop of its own,
    psycopg over TCP) talks over the bridge as that host, while the rest of
    the process stays on the machine's own network.
    """

    def __init__(self, namespace: str, threads: int = 4) -> None:
        self.namespace = namespace
        self._pool = ThreadPoolExecutor(
            threads, thread_name_prefix=namespace, initializer=_enter, initargs=(namespace,)
        )

    def call(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        return self.submit(fn, *args, **kwargs).result()

    def submit(self, fn: Callable[..., T], *args: object, **kwargs: object) -> Future[T]:
        return self._pool.submit(fn, *args, **kwargs)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def in_namespace(namespace: str, fn: Callable[[], T]) -> T:
    runner = InNamespace(namespace, threads=1)
    try:
        return runner.call(fn)
    finally:
        runner.close()
