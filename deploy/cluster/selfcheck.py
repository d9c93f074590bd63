"""The harness checks itself: every primitive the scenarios will use, then teardown.

Up, the smoke check, then each fault and its repair (cut/heal, throttle,
netem or its refusal, kill/start of a node, restart of PostgreSQL and
Redis), the isolation of the hosts, down() leaving nothing, and a harness
killed with SIGKILL cleaned up by a fresh `down`. Exits 0 when all passed.

    python -m deploy.cluster selfcheck
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from deploy.cluster import netns, probes, smoke
from deploy.cluster.cluster import BASE_DIR, PYTHON, Cluster
from deploy.cluster.topology import REDIS_PORT


class Report:
    def __init__(self) -> None:
        self.failed = 0

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.failed += not ok
        print(f"  {'ok  ' if ok else 'FAIL'}  {name}{': ' + detail if detail else ''}", flush=True)
        return ok


def eventually(condition: Callable[[], bool], seconds: float) -> float | None:
    """Seconds until `condition` held, or None if it did not within `seconds`."""
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        if condition():
            return time.monotonic() - began
        time.sleep(0.2)
    return None


def lb_healthy(cluster: Cluster) -> bool:
    return cluster.http("GET", "/healthz").status_code == 200


def check_isolation(cluster: Cluster, report: Report) -> None:
    routes = cluster.run("clients", ["ip", "-4", "route"]).stdout.strip()
    report.check("no route out of a host", "default" not in routes, routes)
    # Nothing is sent: with no route the kernel refuses at once, locally.
    problem = cluster.call("clients", probes.tcp, "192.0.2.1", 80) or ""
    report.check("an outside address is unreachable", "unreachable" in problem, problem)
    problem = cluster.call("clients", probes.tcp, "127.0.0.1", 5432) or ""
    report.check("the machine's own PostgreSQL is out of reach", bool(problem), problem)


def check_cut_and_heal(cluster: Cluster, report: Report) -> None:
    redis_address = cluster.address("redis")
    cluster.cut("redis")
    problem = cluster.call("clients", probes.redis_ping, redis_address, REDIS_PORT)
    report.check("cut redis: clients cannot reach it", problem is not None, problem or "")
    report.check("cut redis: the harness still reads it (Unix socket)", cluster.redis().ping())
    cluster.heal("redis")
    took = eventually(
        lambda: cluster.call("clients", probes.redis_ping, redis_address, REDIS_PORT) is None, 10
    )
    report.check("heal redis: reachable again", took is not None, f"{took or 0:.1f} s")
    took = eventually(lambda: lb_healthy(cluster), 60)
    report.check("heal redis: /healthz 200 through lb", took is not None, f"{took or 0:.1f} s")


def check_link_shaping(cluster: Cluster, report: Report) -> None:
    cluster.throttle("feed", "1mbit")
    shaped = cluster.run("feed", ["tc", "qdisc", "show", "dev", "eth0"]).stdout
    report.check("throttle feed: tbf on its link", "tbf" in shaped, shaped.strip())
    cluster.heal("feed")
    shaped = cluster.run("feed", ["tc", "qdisc", "show", "dev", "eth0"]).stdout
    report.check("heal feed: no tbf left", "tbf" not in shaped, shaped.strip())
    try:
        cluster.netem("feed", delay_ms=50)
    except netns.NetemUnavailable as exc:
        report.check(
            "netem: refused clearly (kernel without it)", not cluster.netem_available, str(exc)
        )
    else:
        report.check("netem: delay applied", cluster.netem_available)
    cluster.heal("feed")


def check_kill_and_start(cluster: Cluster, report: Report) -> None:
    pids = cluster.kill("node-b")
    left = netns.pids_in(cluster.topology.namespace("node-b"))
    report.check("kill node-b: every process gone", bool(pids) and not left, f"{len(pids)} killed")
    answers = [cluster.http("GET", "/healthz").status_code for _ in range(10)]
    report.check("node-b dead: lb still answers 200", set(answers) == {200}, str(answers))
    began = time.monotonic()
    cluster.start_host("node-b")
    running = all(s.running for s in cluster.host_services("node-b"))
    report.check("start node-b: its services ready", running, f"{time.monotonic() - began:.1f} s")


def check_restarts(cluster: Cluster, report: Report) -> None:
    cluster.redis().set("cluster-selfcheck", "kept")
    began = time.monotonic()
    cluster.restart("redis")
    kept = cluster.redis().get("cluster-selfcheck") == b"kept"
    report.check(
        "restart redis: data kept (append-only file)", kept, f"{time.monotonic() - began:.1f} s"
    )
    began = time.monotonic()
    cluster.restart("postgres")
    took = eventually(lambda: lb_healthy(cluster), 60)
    detail = f"restart {time.monotonic() - began:.1f} s, /healthz 200 after {took or 0:.1f} s"
    report.check("restart postgres: the app reconnects", took is not None, detail)
    users = cluster.sql("SELECT count(*) FROM auth_user")[0][0]
    report.check("sql(): reads the application's tables", users >= 1, f"{users} user(s)")


def leftovers(cluster: Cluster) -> list[str]:
    found = [*netns.leftover_namespaces(), *netns.leftover_links()]
    if cluster.run_dir.exists():
        found.append(str(cluster.run_dir))
    build = str(cluster.var / "build" / "app")
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                command = open(f"/proc/{entry.name}/cmdline", "rb").read().decode(errors="replace")
            except OSError:
                continue
            if (
                build in command
                or "deploy.cluster.feed" in command
                or "deploy.cluster.mail" in command
            ):
                found.append(f"process {entry.name}: {command.replace(chr(0), ' ')[:80]}")
    return found


def check_down_after_a_crash(report: Report) -> None:
    """A harness killed with SIGKILL leaves everything running; `down` removes it all."""
    code = (
        "from deploy.cluster.cluster import Cluster\n"
        "Cluster().up()\n"
        "print('up', flush=True)\n"
        "input()\n"
    )
    child = subprocess.Popen(  # noqa: S603 (our python, fixed code)
        [str(PYTHON), "-c", code],
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert child.stdout is not None
    line = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait()
    orphans = sum(len(netns.pids_in(n)) for n in netns.leftover_namespaces())
    report.check(
        "a killed harness leaves its processes running",
        line == "up" and orphans > 0,
        f"{orphans} processes",
    )
    began = time.monotonic()
    Cluster().down()
    left = leftovers(Cluster())
    report.check(
        "down after a crash: nothing left", not left, f"{time.monotonic() - began:.1f} s {left}"
    )


def main() -> int:
    report = Report()
    cluster = Cluster()
    try:
        cluster.up()
        print(f"up in {cluster.timings['total']:.1f} s: {cluster.timings}", flush=True)
        result = smoke.run(cluster)
        print(result.report(), flush=True)
        report.check("smoke check", result.ok)
        check_isolation(cluster, report)
        check_cut_and_heal(cluster, report)
        check_link_shaping(cluster, report)
        check_kill_and_start(cluster, report)
        check_restarts(cluster, report)
        count = cluster.mail.count()
        report.check(
            "mail record: no Message-ID twice", not cluster.mail.duplicates(), f"{count} message(s)"
        )
        print(cluster.table(), flush=True)
    finally:
        cluster.down()
    left = leftovers(cluster)
    report.check("down: no namespace, link, directory or process left", not left, str(left))
    report.check("down again: nothing to do", Cluster().down() == [])
    check_down_after_a_crash(report)
    print(f"selfcheck: {'passed' if not report.failed else f'{report.failed} FAILED'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
