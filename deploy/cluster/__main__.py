"""`make cluster`, `make cluster-down`, `make chaos`: the cluster from the command line.

python -m deploy.cluster [up] [--smoke]   # up, smoke check, table; until Ctrl-C
                                          # (--smoke: down afterwards, exit 0/1)
python -m deploy.cluster down             # remove all a run left, crashed or not
python -m deploy.cluster selfcheck        # every harness primitive, then down
python -m deploy.cluster chaos            # the failure scenarios (deploy/cluster/chaos.py)
python -m deploy.cluster soak             # Redis restarted again and again (deploy/cluster/soak.py)
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from types import FrameType

from deploy.cluster import chaos, netns, selfcheck, smoke, soak
from deploy.cluster.cluster import Cluster, ClusterError, main_down


class Stop(Exception):
    """SIGTERM or SIGHUP: leave as Ctrl-C does, through down()."""


def _stop(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def timings(cluster: Cluster) -> str:
    phases = [f"{name} {seconds:.1f} s" for name, seconds in cluster.timings.items()]
    return ", ".join(p for p in phases if not p.startswith("rebuilt"))


def up(smoke_only: bool) -> int:
    cluster = Cluster()
    try:
        print("cluster: building and starting (logs in var/cluster/<host>/)...", flush=True)
        cluster.up()
        print(f"cluster: up in {cluster.timings['total']:.1f} s ({timings(cluster)})")
        if not cluster.netem_available:
            print("cluster: no netem on this kernel: cut/heal and throttle only, no delay/loss")
        result = smoke.run(cluster)
        print(f"smoke check: {'passed' if result.ok else 'FAILED'}\n{result.report()}")
        print(cluster.table(), flush=True)
        if smoke_only:
            return 0 if result.ok else 1
        print(f"\nRunning: {cluster.topology.lb_url}/ from the clients host, e.g.\n"
              f"  ip netns exec cmc-clients curl -s {cluster.topology.lb_url}/healthz\n"
              "Ctrl-C or `make cluster-down` stops it.", flush=True)  # fmt: skip
        try:
            watch(cluster)
        except (KeyboardInterrupt, Stop):
            pass  # asked for: a normal end
        return 0
    except (KeyboardInterrupt, Stop):
        return 130
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr)
        return 1
    finally:
        print("cluster: stopping...", file=sys.stderr, flush=True)
        cluster.down()


def watch(cluster: Cluster) -> None:
    """Say when a process ends; leave when another terminal took the cluster down."""
    reported: set[str] = set()
    while netns.leftover_namespaces():
        for service in list(cluster.services.values()):
            if not service.running and service.key not in reported:
                reported.add(service.key)
                code = service.process.returncode if service.process else None
                print(f"cluster: {service.key} exited ({code}); see {service.log}", flush=True)
        time.sleep(1)
    print("cluster: the namespaces are gone (make cluster-down?)", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__)
    parser.add_argument(
        "command", nargs="?", default="up", choices=["up", "down", "selfcheck", "chaos", "soak"]
    )
    parser.add_argument("--smoke", action="store_true", help="exit after the smoke check (0/1)")
    args, rest = parser.parse_known_args(argv)
    # Started in the background by a script, Python would inherit SIGINT
    # ignored and never see a Ctrl-C or `kill -INT`.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    if args.command == "down":
        return main_down()
    if args.command == "selfcheck":
        return selfcheck.main()
    if args.command == "chaos":
        return chaos.main(rest)
    if args.command == "soak":
        return soak.main(rest)
    return up(args.smoke)


if __name__ == "__main__":
    sys.exit(main())
