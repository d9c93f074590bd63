"""The lock a per-user cap is checked under: count, then add, one request at a time.

A cap (at most N active alerts, N summaries) is a count before an INSERT or
an UPDATE that adds a row to what is counted. Two requests of one user at
once would both count N - 1 and both add: READ COMMITTED shows neither the
other's uncommitted row. Each holds this transaction-level advisory lock for
its user and its cap before counting, so the second counts once the first
has committed (or rolled back). No table row is locked, so nothing else
(the evaluator, a login) waits.
"""

from __future__ import annotations

from django.db import connection

# One lock space per cap: an alert's save never waits for a summary's.
CAPS = {"alerts.active": 1, "summaries.schedules": 2}


def hold_cap_lock(cap: str, user_id: int) -> None:
    """Wait for, then hold until the transaction ends, `cap`'s lock for this user.

    Call inside transaction.atomic(), before counting.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("hold_cap_lock outside a transaction would be released at once")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [CAPS[cap], user_id])
