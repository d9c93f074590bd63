"""A PostgreSQL database a benchmark creates for itself (and drops, or keeps for the next run)."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def _admin_url_and_name(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/postgres")), parts.path.lstrip("/")


def recreate_database(url: str) -> None:
    """Drop the database `url` names (if any) and create it empty."""
    import psycopg

    admin_url, name = _admin_url_and_name(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def ensure_database(url: str) -> None:
    """Create the database `url` names unless it exists; its rows stay for the next run."""
    import psycopg

    admin_url, name = _admin_url_and_name(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    """Close Django's connections to it, then drop the database `url` names."""
    import psycopg
    from django.db import connections

    connections.close_all()
    admin_url, name = _admin_url_and_name(url)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
