"""Claiming what a batch matched: fire each alert exactly once, in one statement.

FIRE_SQL locks the matched alerts in id order (concurrent evaluators never
deadlock and never both win a row), claims them with one conditional UPDATE
(which also moves a step alert's band to the firing price),
writes an AlertEvent per claimed alert with its reason and its deliveries
through the outbox (docs/notifications.md): data-modifying CTEs, so a firing
costs no ORM work beyond the AlertEvent returned for it. REARM_SQL re-arms
every_time level alerts whose condition is false again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import connection
from django.db.models.base import ModelState

from alerts.matching import (
    MATCH_COLUMNS,
    REARM_RULES,
    Movement,
    PriceChange,
    batch_cte,
    matching_part,
    matching_sql,
    moves_cte,
    sql_in,
)
from alerts.models import LEVEL_CONDITIONS, STEP_CONDITIONS, AlertEvent, Frequency, Status
from alerts.reasons import REASON_SQL
from alerts.steps import FALLING_STEPS, RISING_STEPS, band_sql
from notifications.outbox import DELIVERIES_INSERT_SQL, enqueue_on_commit
from prices.currencies import Rate

# Locks the claimable alerts (alias a), not the batch rows they match.
_LOCK = "FOR UPDATE OF a"

# The alerts that match the batch and may fire now, locked in id order.
#
# `matched` is computed on the statement's snapshot. When a row is locked by
# a concurrent transaction (an owner's edit, another evaluator), PostgreSQL
# waits for it and then re-evaluates this locking scan on the NEW row version
# (READ COMMITTED EvalPlanQual): the WHERE below is re-checked and the select
# list recomputed, while `matched` keeps the old row's values. So
# `still_matches` compares the locked row's match columns with the ones that
# matched, and only such rows are claimed: an alert edited onto another coin,
# condition, target, percent or window while we waited is left alone (it
# would otherwise be claimed with no event, the events joining the batch on
# its new coin); the next batch judges its new settings. It is a column, not
# a join condition, so the planner still expects every matched row to be
# claimed (a join filter's guessed selectivity made it expect one claimed
# row and join the events to them by nested loop: +60 ms at 1,000 firing).
#
# `claimable` probes the primary key once per matched id, in id order,
# locking as it goes. As a plain join on `matched` (estimated at tens of
# thousands of rows) the planner walked the whole primary key in order for a
# merge join: 293 ms at 1M alerts with 1,000 matches spread over the table
# (packed ids had hidden it). The lateral form keeps that estimate for the
# joins after it, which must stay hash joins (see above).
#
# Each claimable row also carries its coin's price (a step alert's band
# moves to it) and, for the reason, the step's reference before the claim
# and whether that was the price of its last firing.
_CLAIMABLE_CTES = """
{batch}, {moves},
matched AS ({matching}),
claimable AS (
    SELECT a.id AS claimed_id, {same_match} AS still_matches, b.price AS firing_price,
        a.step_reference AS step_from,
        COALESCE(a.step_reference_at = a.last_triggered_at, FALSE) AS step_from_firing
    FROM (SELECT * FROM matched ORDER BY id OFFSET 0) m
    CROSS JOIN LATERAL (
        SELECT * FROM alerts_alert a WHERE a.id = m.id AND a.status = '{active}' AND a.armed
            AND (a.cooldown_until IS NULL OR a.cooldown_until <= CAST(%s AS TIMESTAMPTZ))
            AND (a.expires_at IS NULL OR a.expires_at > CAST(%s AS TIMESTAMPTZ))
        {lock}
    ) a
    JOIN batch b ON b.coin_id = m.coin_id AND b.currency = m.currency
)
"""

# Claims them: once -> triggered; every_time -> cooldown (levels also
# disarm). A step alert's band moves to the firing price (alerts.steps), once
# or every time, with the time it was taken: its last_triggered_at.
#
# DISTINCT ON an id that is unique anyway: the planner then estimates the
# claimed rows by the id's distinct count, as it did for the semi-join
# `id IN (SELECT claimed_id ...)` this replaces, and probes the primary key
# once per claimed id. As a plain join on `claimable` it expected thousands
# of rows and hashed the whole table (every alert's row read per batch).
_CLAIMING_UPDATE = """
UPDATE alerts_alert a SET
    status = CASE WHEN a.frequency = '{once}' THEN '{triggered}' ELSE a.status END,
    armed = CASE WHEN a.frequency = '{every_time}' AND a.condition IN {levels}
        THEN FALSE ELSE a.armed END,
    cooldown_until = CASE WHEN a.frequency = '{every_time}'
        THEN CAST(%s AS TIMESTAMPTZ) + a.cooldown_seconds * INTERVAL '1 second' ELSE NULL END,
    last_triggered_at = CAST(%s AS TIMESTAMPTZ),
    updated_at = CAST(%s AS TIMESTAMPTZ),
    step_reference = CASE WHEN a.condition IN {steps} THEN c.firing_price
        ELSE a.step_reference END,
    step_reference_at = CASE WHEN a.condition IN {steps} THEN CAST(%s AS TIMESTAMPTZ)
        ELSE a.step_reference_at END,
    step_low = CASE WHEN a.condition IN {falling_steps} THEN {step_low} ELSE a.step_low END,
    step_high = CASE WHEN a.condition IN {rising_steps} THEN {step_high} ELSE a.step_high END
FROM (SELECT DISTINCT ON (claimed_id) * FROM claimable WHERE still_matches) c
WHERE a.id = c.claimed_id
RETURNING a.id, a.user_id, a.coin_id, a.currency, a.condition, a.target, a.percent, a."window",
    a.channels, a.threshold, a.range_low, a.range_high, c.step_from, c.step_from_firing
"""

# The whole firing in one statement. Its data-modifying CTEs run as one unit
# on one snapshot: `claimed` is the conditional UPDATE above (the
# exactly-once claim), `events` writes one AlertEvent per claimed alert with
# its reason (alerts.reasons.REASON_SQL), `deliveries` is the outbox's INSERT
# (notifications.outbox.DELIVERIES_INSERT_SQL). It returns each event's id,
# alert, coin and reason (the rest is the batch's) and its delivery ids, for
# the tasks enqueued on commit.
FIRE_SQL = (  # Only this module's constants are formatted in; values are parameters.
    "WITH "  # noqa: S608
    + _CLAIMABLE_CTES
    + ", claimed AS ("
    + _CLAIMING_UPDATE
    + """),
events AS (
    INSERT INTO alerts_alertevent
        (alert_id, coin_id, tick_id, price, previous_price, currency, exchange_rate, reason,
        triggered_at)
    SELECT c.id, c.coin_id, b.tick_id, b.price, b.previous, b.currency, b.rate,
        {reason},
        CAST(%s AS TIMESTAMPTZ)
    FROM claimed c
    JOIN batch b ON b.coin_id = c.coin_id AND b.currency = c.currency
    LEFT JOIN moves m ON m.coin_id = c.coin_id AND m.currency = c.currency
        AND m.win = c."window"
    ORDER BY c.id
    RETURNING id, alert_id, coin_id, price, previous_price, currency, exchange_rate, reason
),
fired AS (
    SELECT e.id AS event_id, c.user_id, c.channels
    FROM events e JOIN claimed c ON c.id = e.alert_id
),
deliveries AS ({deliveries}),
delivery_ids AS (
    SELECT event_id, array_agg(id ORDER BY id) AS ids FROM deliveries GROUP BY event_id
)
SELECT e.id, e.alert_id, e.coin_id, e.price, e.previous_price, e.currency, e.exchange_rate,
    e.reason, d.ids
FROM events e LEFT JOIN delivery_ids d ON d.event_id = e.id
ORDER BY e.id
"""
)


def fire_matching_alerts(
    changes: Sequence[PriceChange],
    movements: Sequence[Movement],
    now: datetime,
    rates: Sequence[Rate] = (),
) -> list[AlertEvent]:
    """Claim, record and queue every alert that fires on this batch: FIRE_SQL.

    Only an active, armed alert out of cooldown and not expired is claimed;
    concurrent evaluators of the same batch lock rows in id order and re-check
    these conditions after the wait, so each alert fires once, and only if
    what it matched on is still what its locked row says. The delivery tasks
    are enqueued on commit.
    """
    sql, params = claim_statement(changes, movements, now, rates)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    enqueue_on_commit([delivery_id for *_, ids in rows for delivery_id in ids or ()])
    ticks = {change.coin_id: change.tick_id for change in changes}
    alias = connection.alias
    return [
        _loaded_event(alias, (event_id, alert_id, coin_id, ticks[coin_id], *values, now))
        for event_id, alert_id, coin_id, *values, _ in rows
    ]


def _loaded_event(alias: str, values: tuple) -> AlertEvent:
    """An AlertEvent as loaded from the database, built without Model.__init__.

    What Model.from_db gives (saved, same attributes), at a sixth of its cost:
    through __init__ every foreign key's descriptor runs, about 5 ms at a
    thousand events a batch. AlertEvent has no init signals to skip.
    """
    event = _new_object(AlertEvent)
    state = ModelState()
    state.adding = False
    state.db = alias
    event._state = state
    event.__dict__.update(zip(_EVENT_FIELDS, values, strict=True))
    return event


_new_object = object.__new__

_EVENT_FIELDS = [
    "id",
    "alert_id",
    "coin_id",
    "tick_id",
    "price",
    "previous_price",
    "currency",
    "exchange_rate",
    "reason",
    "triggered_at",
]


def claim_statement(
    changes: Sequence[PriceChange],
    movements: Sequence[Movement],
    now: datetime,
    rates: Sequence[Rate] = (),
) -> tuple[str, list]:
    """FIRE_SQL for this batch in these currencies (the base alone when none), with parameters.

    The benchmark EXPLAINs it.
    """
    batch_sql, batch_params = batch_cte(changes, rates)
    moves_sql, moves_params = moves_cte(movements, rates)
    step_low, step_high = band_sql("c.firing_price", "a.percent")
    sql = FIRE_SQL.format(
        batch=batch_sql,
        moves=moves_sql,
        matching=matching_sql(),
        active=Status.ACTIVE,
        once=Frequency.ONCE,
        every_time=Frequency.EVERY_TIME,
        triggered=Status.TRIGGERED,
        levels=sql_in(sorted(LEVEL_CONDITIONS)),
        steps=sql_in(sorted(STEP_CONDITIONS)),
        falling_steps=sql_in(FALLING_STEPS),
        rising_steps=sql_in(RISING_STEPS),
        step_low=step_low,
        step_high=step_high,
        lock=_LOCK,
        # Null-safe: the match columns a claim re-checks may be NULL.
        same_match="("
        + " AND ".join(f"a.{column} IS NOT DISTINCT FROM m.{column}" for column in MATCH_COLUMNS)
        + ")",
        reason=REASON_SQL,
        deliveries=DELIVERIES_INSERT_SQL.format(source="fired"),
    )
    # The claim's cooldown and expiry checks, the new cooldown end,
    # last_triggered_at, updated_at, step_reference_at and the events'
    # triggered_at.
    return sql, [*batch_params, *moves_params, *[now] * 7]


# `a.id = ANY(...)` probes the primary key once per matched id, where the
# semi-join on `matched` alone may walk all of it in order (see `claimable`).
REARM_SQL = """
WITH {batch},
matched AS ({matching})
UPDATE alerts_alert SET armed = TRUE
WHERE id IN (
    SELECT a.id FROM alerts_alert a WHERE a.id IN (SELECT id FROM matched)
      AND a.id = ANY(ARRAY(SELECT id FROM matched))
      AND a.status = '{active}' AND NOT a.armed ORDER BY a.id {lock}
)
"""


def rearm_level_alerts(changes: Sequence[PriceChange], rates: Sequence[Rate] = ()) -> int:
    """Re-arm every_time level alerts whose condition is false at this batch.

    Served by alert_disarmed_target_idx and alert_disarmed_threshold_idx
    (price and metric levels); edge, range, movement and step alerts never
    disarm (their cooldown alone spaces their firings; a step's band moves).
    """
    batch_sql, params = batch_cte(changes, rates)
    matching = " UNION ALL ".join(
        matching_part(rule.source, rule.conditions, rule.predicate, False, rule.rows)
        for rule in REARM_RULES
    )
    sql = REARM_SQL.format(batch=batch_sql, matching=matching, active=Status.ACTIVE, lock=_LOCK)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
