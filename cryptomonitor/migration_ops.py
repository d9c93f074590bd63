"""Migration operations shared by the apps."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import migrations


def postgresql_only(forward: Sequence[str], backward: Sequence[str]) -> migrations.RunPython:
    """Run these statements on PostgreSQL only; other databases keep their schema.

    For schema changes where PostgreSQL needs less than Django's own operation
    would do (e.g. dropping one index without re-validating a foreign key).
    """

    def run(statements: Sequence[str]):
        def operation(apps, schema_editor) -> None:
            if schema_editor.connection.vendor == "postgresql":
                for statement in statements:
                    schema_editor.execute(statement)

        return operation

    return migrations.RunPython(run(forward), run(backward))
