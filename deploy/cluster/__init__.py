"""A CryptoMonitor cluster on one machine, for failure scenarios (docs/operations.md).

Each test host is a Linux network namespace with its own address on a private
bridge: the database, Redis, nginx in front of two application nodes, Celery
beat, an SMTP sink, the fake CoinGecko and a host for clients. The processes
are the product's own, started with its real settings from the environment.

    python -m deploy.cluster            # up, smoke check, run until Ctrl-C
    python -m deploy.cluster --smoke    # up, smoke check, down; exit 0 or 1
    python -m deploy.cluster down       # remove whatever a run left behind

Scenarios use `deploy.cluster.cluster.Cluster`. Nothing in the product
imports this package; it needs root (namespaces, veth pairs, a bridge).
"""
