"""`python -m deploy.cluster soak`: Redis restarted again and again under churning sockets.

Made after one `make chaos` run in which node-a's daphne stopped answering
right after scenario 2's Redis restart and grew until the OOM killer ended it
(bench/README.md, "chaos"). Scenario 2 restarts Redis once; this repeats the
restart with a freshly started node-a daphne (as scenario 1 leaves it) and
sockets through lb that stay, leave just before, or leave during each
restart (the moments a process's fan-out listener is stopped and started).

Each round passes when every socket opened after the restart hears a
`prices` batch within 30 s; the soak passes when every round does and no
daphne grew by more than MAX_GROWTH_MIB.

    python -m deploy.cluster soak [--rounds 15]
"""

from __future__ import annotations

import argparse
import threading
import time

import psutil

from deploy.cluster.chaos import CHAOS_SETTINGS, Clients, daphne_pids, wait_until
from deploy.cluster.cluster import Cluster

NODES = ("node-a", "node-b")
SOCKETS = 10
MAX_GROWTH_MIB = 50
MIB = 1024 * 1024


def daphne_rss_mib(cluster: Cluster) -> dict[str, int]:
    """Each node's daphne memory; -1 for a node whose daphne is gone (the crash hunted here)."""
    found = {}
    for host in NODES:
        try:
            pids = daphne_pids(cluster, (host,))
            found[host] = sum(psutil.Process(pid).memory_info().rss for pid in pids) // MIB
        except psutil.NoSuchProcess:
            pids = []
        if not pids:
            found[host] = -1
    return found


def every_socket_heard_a_batch(clients: Clients, since: float) -> bool:
    return all(clients.frames_after(i, since, "prices") for i in range(SOCKETS))


def restart_redis(cluster: Cluster, clients: Clients, round_number: int) -> None:
    """Restart Redis; the sockets stay (round 1, 4, ...), leave before it, or leave during it."""
    way = round_number % 3
    if way == 0:
        cluster.restart("redis")
        return
    if way == 1:
        clients.close()
        cluster.restart("redis")
        return
    restart = threading.Thread(target=cluster.restart, args=("redis",))
    restart.start()
    time.sleep(0.2)
    clients.close()
    restart.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster soak")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args(argv)
    failures = 0
    with Cluster(settings=CHAOS_SETTINGS) as cluster:
        cluster.kill("node-a")
        cluster.start_host("node-a")
        clients = Clients(cluster, SOCKETS)
        if not wait_until(lambda: clients.connected() == SOCKETS, 30):
            print(f"soak: only {clients.connected()}/{SOCKETS} sockets had a snapshot")
            return 1
        first = rss = daphne_rss_mib(cluster)
        first_pids = daphne_pids(cluster, NODES)
        for number in range(args.rounds):
            restart_redis(cluster, clients, number)
            back = time.time()
            if clients.stop.is_set():  # they left: new ones come, as pages reconnect
                clients = Clients(cluster, SOCKETS)
            cluster.feed.move("solana", "1")
            heard = wait_until(lambda c=clients, t=back: every_socket_heard_a_batch(c, t), 30)
            rss = daphne_rss_mib(cluster)
            # A daphne that died (and was started again) passes no round.
            same = daphne_pids(cluster, NODES) == first_pids
            ok = bool(heard) and same
            failures += not ok
            print(
                f"soak: round {number + 1}: {'pass' if ok else 'FAIL'}, every socket heard a "
                f"batch: {bool(heard)} ({time.time() - back:.1f} s after the restart); same "
                f"daphne processes: {same}; daphne MiB {rss}",
                flush=True,
            )
        clients.close()
    growth = max(rss[host] - first[host] for host in NODES)
    failures += growth > MAX_GROWTH_MIB
    print(
        f"soak: {args.rounds} Redis restarts, {failures} failed; daphne grew {growth} MiB at most "
        f"(bound {MAX_GROWTH_MIB})",
        flush=True,
    )
    return 1 if failures else 0
