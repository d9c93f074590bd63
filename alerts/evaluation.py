"""Set-based evaluation of one price batch: match, claim and record alerts in SQL.

One batch (alerts.tasks.evaluate_alerts) is a list of {"coin_id", "tick_id", "price",
"previous_price", "time"}, one per coin whose price changed. For the whole
batch at once this module

1. re-arms every_time level alerts whose condition is false again;
2. matches alerts with indexed range scans per coin and condition (levels:
   target on the right side of the price; edges: target between the previous
   and the current price; movements: percent at most the window's change)
   and claims them in the same statement with one conditional UPDATE, in id
   order so concurrent evaluators never deadlock and never both win a row;
3. writes an AlertEvent per claimed alert and its deliveries through the
   outbox (docs/notifications.md), in the claiming transaction. The claim, the events
   and the deliveries are ONE statement (FIRE_SQL, data-modifying CTEs), so a
   firing costs no ORM work beyond the AlertEvent returned for it.

The work grows with the number of matching alerts, not with all alerts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models.base import ModelState
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.models import (
    MOVEMENT_CONDITIONS,
    WINDOW_DURATIONS,
    Alert,
    AlertEvent,
    Condition,
    Frequency,
    Status,
    Window,
)
from notifications.outbox import (
    DELIVERIES_INSERT_SQL,
    enqueue_on_commit,
)
from prices.models import decimal_text

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class PriceChange:
    """One coin's new price, as the pipeline reports it."""

    coin_id: int
    tick_id: int | None
    price: Decimal
    previous_price: Decimal | None
    time: datetime

    @classmethod
    def from_message(cls, item: dict) -> PriceChange:
        time = item["time"]
        if isinstance(time, str):
            time = parse_datetime(time)
        if time is None or timezone.is_naive(time):
            raise ValueError(f"batch item time must be an aware ISO 8601 time: {item!r}")
        previous = item.get("previous_price")
        return cls(
            coin_id=int(item["coin_id"]),
            tick_id=int(item["tick_id"]) if item.get("tick_id") is not None else None,
            price=Decimal(str(item["price"])),
            previous_price=Decimal(str(previous)) if previous is not None else None,
            time=time,
        )


@dataclass(frozen=True)
class Movement:
    """How far a coin's price moved within a window, in percent."""

    coin_id: int
    window: str
    reference: Decimal
    change_pct: Decimal
    price: Decimal


# Settings (name, value) for the evaluating transaction only (SET LOCAL).
# JIT compiling these statements costs tens of milliseconds; they run in a
# few. Plain index scans only: a fired alert's old version stays in the armed
# indexes until VACUUM, and a bitmap probe revisits its heap page in every
# batch, while an index scan marks the entry dead once and then skips it (1M
# alerts, 1,000 firing, 62k fired since the last vacuum: 15 ms less per
# batch). Sequential scans off too: with bitmaps off alone, 6,000 alerts on
# one coin made the planner scan the whole table for each level probe. Every
# table read here has its index (alerts/tests/test_matching_plan.py).
PLAN_SETTINGS = (
    ("jit", "off"),
    ("enable_bitmapscan", "off"),
    ("enable_seqscan", "off"),
)
# Locks the claimable alerts (alias a), not the batch rows they match.
_LOCK = "FOR UPDATE OF a"


def evaluate_batch(batch: Sequence[dict], now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate every alert against one price batch; return the events fired.

    `now` defaults to the current time; it decides cooldowns and expiry and
    stamps the events (a replay of history passes the tick times).
    """
    changes = _latest_per_coin(PriceChange.from_message(item) for item in batch)
    if not changes:
        return []
    now = now or timezone.now()
    movements = window_movements(changes)
    # Inside a caller's transaction our block is a savepoint, and SET LOCAL
    # would outlive it: the caller's later queries would be planned with our
    # settings. Then they are put back at the end.
    nested = connection.in_atomic_block
    with transaction.atomic():
        previous = _apply_settings(PLAN_SETTINGS, keep_previous=nested)
        rearm_level_alerts(changes)
        events = fire_matching_alerts(changes, movements, now)
        _apply_settings(previous)
    return events


def _apply_settings(
    settings: Sequence[tuple[str, str]], keep_previous: bool = False
) -> tuple[tuple[str, str], ...]:
    """SET LOCAL each (name, value); return the values they had when `keep_previous`."""
    if not settings:
        return ()
    names = [name for name, _ in settings]
    previous = ", ".join("current_setting(%s)" for _ in names) if keep_previous else "NULL"
    applied = ", ".join("set_config(%s, %s, true)" for _ in settings)
    params = [*(names if keep_previous else []), *(v for pair in settings for v in pair)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {previous}, {applied}", params)  # noqa: S608 (placeholders only)
        row = cursor.fetchone()
    return tuple(zip(names, row[: len(names)], strict=True)) if keep_previous else ()


def _latest_per_coin(changes: Iterable[PriceChange]) -> list[PriceChange]:
    latest: dict[int, PriceChange] = {}
    for change in changes:
        if change.coin_id not in latest or change.time >= latest[change.coin_id].time:
            latest[change.coin_id] = change
    return sorted(latest.values(), key=lambda change: change.coin_id)


def window_movements(changes: Sequence[PriceChange]) -> list[Movement]:
    """Each coin's change within each window, against the window's first stored tick.

    The reference is the first tick at or after the window's start: with a
    gap in the ticks we compare only against prices we saw inside the window
    rather than claim a move across the gap. Ticks are kept for days
    (PRICE_TICK_RETENTION_DAYS), far longer than the longest window.
    """
    windows_sql, params = _windows_cte(changes)
    sql = (
        f"WITH {windows_sql} "  # noqa: S608
        "SELECT w.coin_id, w.win, (SELECT t.price FROM prices_pricetick t "
        "WHERE t.coin_id = w.coin_id AND t.time >= w.start_at AND t.time <= w.end_at "
        "ORDER BY t.time LIMIT 1) FROM w"
    )
    prices = {change.coin_id: change.price for change in changes}
    movements = []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for coin_id, window, reference in cursor.fetchall():
            if reference is None:
                continue
            if reference <= 0:
                continue
            change_pct = (prices[coin_id] - reference) / reference * HUNDRED
            movements.append(Movement(coin_id, window, reference, change_pct, prices[coin_id]))
    return movements


def _windows_cte(changes: Sequence[PriceChange]) -> tuple[str, list]:
    """The CTE `w`: each coin's windows as (coin_id, win, start_at, end_at).

    One row per coin goes in and the database subtracts the windows itself:
    a third of the rows to format and parse.
    """
    ends_sql, params = _rows_cte(
        "ends",
        [("coin_id", "BIGINT"), ("end_at", "TIME")],
        [[change.coin_id, change.time] for change in changes],
    )
    spans = ", ".join(
        f"('{window}', {int(duration.total_seconds())})"
        for window, duration in WINDOW_DURATIONS.items()
    )
    return (
        f"{ends_sql}, w AS (SELECT e.coin_id, s.win, "  # noqa: S608
        "e.end_at - s.seconds * INTERVAL '1 second' AS start_at, e.end_at "
        f"FROM ends e CROSS JOIN (VALUES {spans}) AS s(win, seconds))",
        params,
    )


def _rows_cte(
    name: str, columns: Sequence[tuple[str, str]], rows: Sequence[Sequence]
) -> tuple[str, list]:
    """A CTE of `rows` sent as ONE JSON parameter.

    Thousands of separate parameters cost more to bind than the query takes
    to run. Types: BIGINT, NUMERIC, TEXT and TIME (a timestamp).
    """
    names = [column for column, _ in columns]

    def encode(value: object) -> str:
        # Only what JSON lacks comes here: Decimals travel as exact strings,
        # times as ISO 8601.
        return value.isoformat() if isinstance(value, datetime) else str(value)

    payload = json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=encode)
    typed = ", ".join(
        f"{column} {'TIMESTAMPTZ' if kind == 'TIME' else kind}" for column, kind in columns
    )
    return (
        f"{name} AS (SELECT * FROM "  # noqa: S608
        f"jsonb_to_recordset(CAST(%s AS JSONB)) AS r({typed}))"
    ), [payload]


def _batch_cte(changes: Sequence[PriceChange]) -> tuple[str, list]:
    # The texts are the coin's parts of the reasons (see firing_reason), made
    # here once per coin so FIRE_SQL writes exactly what Python would.
    columns = [
        ("coin_id", "BIGINT"),
        ("price", "NUMERIC"),
        ("previous", "NUMERIC"),
        ("tick_id", "BIGINT"),
        ("price_text", "TEXT"),
        ("previous_text", "TEXT"),
        ("direction", "TEXT"),
    ]
    rows = [
        [
            change.coin_id,
            change.price,
            change.previous_price,
            change.tick_id,
            decimal_text(change.price),
            None if change.previous_price is None else decimal_text(change.previous_price),
            None if change.previous_price is None else crossing_direction(change),
        ]
        for change in changes
    ]
    return _rows_cte("batch", columns, rows)


def _moves_cte(movements: Sequence[Movement]) -> tuple[str, list]:
    # One row per coin and window: the rise, the fall (both positive, NULL
    # when the price went the other way), the absolute move, and the start of
    # the reason of a movement alert firing on it.
    columns = [
        ("coin_id", "BIGINT"),
        ("win", "TEXT"),
        ("rise", "NUMERIC"),
        ("fall", "NUMERIC"),
        ("swing", "NUMERIC"),
        ("reason_start", "TEXT"),
    ]
    rows = [
        [
            movement.coin_id,
            movement.window,
            movement.change_pct if movement.change_pct > 0 else None,
            -movement.change_pct if movement.change_pct < 0 else None,
            abs(movement.change_pct),
            movement_reason_start(movement),
        ]
        for movement in movements
    ]
    return _rows_cte("moves", columns, rows)


def _in(conditions: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{condition}'" for condition in conditions) + ")"


def _matching_part(
    source: str,
    conditions: Iterable[str],
    predicate: str,
    armed: bool = True,
    rows: str = "TRUE",
) -> str:
    """Alerts of one condition that match a batch row: one index range scan per row.

    Served by alert_armed_target_idx / alert_armed_percent_idx (armed) and
    alert_disarmed_target_idx (re-arming). `rows` keeps only the batch rows
    the predicate can hold for (e.g. rising coins for crosses_up): an index
    probe costs microseconds even when it finds nothing, and a batch makes
    thousands of them.
    """
    join = "a.coin_id = b.coin_id"
    if source == "moves":
        join += ' AND a."window" = b.win'
    # Only this module's constants are formatted in; values are parameters.
    where = (
        f"a.status = '{Status.ACTIVE}' AND {'' if armed else 'NOT '}a.armed "
        f"AND a.condition IN {_in(conditions)} AND {predicate}"
    )
    columns = ", ".join(f"a.{column}" for column in ("id", *MATCH_COLUMNS))
    # One scan per batch row through LATERAL ... OFFSET 0. As a plain join the
    # planner cannot know the target ranges are narrow, so at a million
    # alerts it prefers a hash join over a sequential scan (1.4 s instead of
    # milliseconds).
    return (
        f"SELECT m.* FROM {source} b CROSS JOIN LATERAL ("  # noqa: S608
        f"SELECT {columns} FROM alerts_alert a WHERE {join} AND {where} OFFSET 0) m "
        f"WHERE {rows}"
    )


# What a match depends on besides the batch: each matched row carries them as
# the evaluator's snapshot saw them, and the claim takes an alert only if its
# locked row still has them (see _CLAIMABLE_CTES).
MATCH_COLUMNS = ("coin_id", "condition", "target", "percent", '"window"')


def matching_sql() -> str:
    """Every alert that matches this batch.

    Edges: a jump over the target within one tick counts, and without a
    previous price (NULL) no edge matches.
    """
    parts = [
        ("batch", [Condition.ABOVE], "a.target <= b.price", "TRUE"),
        ("batch", [Condition.BELOW], "a.target >= b.price", "TRUE"),
        (
            "batch",
            [Condition.CROSSES_UP, Condition.CROSSES],
            "a.target > b.previous AND a.target <= b.price",
            "b.price > b.previous",
        ),
        (
            "batch",
            [Condition.CROSSES_DOWN, Condition.CROSSES],
            "a.target < b.previous AND a.target >= b.price",
            "b.price < b.previous",
        ),
        ("moves", [Condition.PCT_UP], "a.percent <= b.rise", "b.rise IS NOT NULL"),
        ("moves", [Condition.PCT_DOWN], "a.percent <= b.fall", "b.fall IS NOT NULL"),
        ("moves", [Condition.PCT_MOVE], "a.percent <= b.swing", "b.swing > 0"),
    ]
    return " UNION ALL ".join(
        _matching_part(source, conditions, predicate, rows=rows)
        for source, conditions, predicate, rows in parts
    )


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
_CLAIMABLE_CTES = """
{batch}, {moves},
matched AS ({matching}),
claimable AS (
    SELECT a.id AS claimed_id, {same_match} AS still_matches
    FROM (SELECT * FROM matched ORDER BY id OFFSET 0) m
    CROSS JOIN LATERAL (
        SELECT * FROM alerts_alert a WHERE a.id = m.id AND a.status = '{active}' AND a.armed
            AND (a.cooldown_until IS NULL OR a.cooldown_until <= CAST(%s AS TIMESTAMPTZ))
            AND (a.expires_at IS NULL OR a.expires_at > CAST(%s AS TIMESTAMPTZ))
        {lock}
    ) a
)
"""

# Claims them: once -> triggered; every_time -> cooldown (levels also disarm).
_CLAIMING_UPDATE = """
UPDATE alerts_alert SET
    status = CASE WHEN frequency = '{once}' THEN '{triggered}' ELSE status END,
    armed = CASE WHEN frequency = '{every_time}' AND condition IN {levels}
        THEN FALSE ELSE armed END,
    cooldown_until = CASE WHEN frequency = '{every_time}'
        THEN CAST(%s AS TIMESTAMPTZ) + cooldown_seconds * INTERVAL '1 second' ELSE NULL END,
    last_triggered_at = CAST(%s AS TIMESTAMPTZ),
    updated_at = CAST(%s AS TIMESTAMPTZ)
WHERE id IN (SELECT claimed_id FROM claimable WHERE still_matches)
RETURNING id, user_id, coin_id, condition, target, percent, "window", channels
"""

# The whole firing in one statement. Its data-modifying CTEs run as one unit
# on one snapshot: `claimed` is the conditional UPDATE above (the
# exactly-once claim), `events` writes one AlertEvent per claimed alert with
# the reason firing_reason() would give (the coin's texts come in the batch
# and moves rows; the alert's target and percent are printed by trim_scale,
# which drops trailing zeros like decimal_text), `deliveries` is the outbox's INSERT
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
        (alert_id, coin_id, tick_id, price, previous_price, reason, triggered_at)
    SELECT c.id, c.coin_id, b.tick_id, b.price, b.previous,
        CASE
            WHEN c.condition IN {movements}
                THEN m.reason_start || CAST(trim_scale(c.percent) AS TEXT) || '%% asked for.'
            WHEN c.condition IN {levels}
                THEN 'Price ' || b.price_text || ' is at or '
                    || CASE WHEN c.condition = '{above}' THEN 'above' ELSE 'below' END
                    || ' ' || CAST(trim_scale(c.target) AS TEXT) || '.'
            ELSE 'Price crossed ' || b.direction || ' through '
                || CAST(trim_scale(c.target) AS TEXT)
                || ' (' || b.previous_text || ' → ' || b.price_text || ').'
        END,
        CAST(%s AS TIMESTAMPTZ)
    FROM claimed c
    JOIN batch b ON b.coin_id = c.coin_id
    LEFT JOIN moves m ON m.coin_id = c.coin_id AND m.win = c."window"
    ORDER BY c.id
    RETURNING id, alert_id, coin_id, reason
),
fired AS (
    SELECT e.id AS event_id, c.user_id, c.channels
    FROM events e JOIN claimed c ON c.id = e.alert_id
),
deliveries AS ({deliveries}),
delivery_ids AS (
    SELECT event_id, array_agg(id ORDER BY id) AS ids FROM deliveries GROUP BY event_id
)
SELECT e.id, e.alert_id, e.coin_id, e.reason, d.ids
FROM events e LEFT JOIN delivery_ids d ON d.event_id = e.id
ORDER BY e.id
"""
)


def fire_matching_alerts(
    changes: Sequence[PriceChange], movements: Sequence[Movement], now: datetime
) -> list[AlertEvent]:
    """Claim, record and queue every alert that fires on this batch: FIRE_SQL.

    Only an active, armed alert out of cooldown and not expired is claimed;
    concurrent evaluators of the same batch lock rows in id order and re-check
    these conditions after the wait, so each alert fires once, and only if
    what it matched on is still what its locked row says. The delivery tasks
    are enqueued on commit.
    """
    sql, params = claim_statement(changes, movements, now)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    enqueue_on_commit([delivery_id for *_, ids in rows for delivery_id in ids or ()])
    by_coin = {change.coin_id: change for change in changes}
    alias = connection.alias
    return [
        _loaded_event(
            alias,
            (
                event_id,
                alert_id,
                coin_id,
                by_coin[coin_id].tick_id,
                by_coin[coin_id].price,
                by_coin[coin_id].previous_price,
                reason,
                now,
            ),
        )
        for event_id, alert_id, coin_id, reason, _ in rows
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
    "reason",
    "triggered_at",
]


def claim_statement(
    changes: Sequence[PriceChange], movements: Sequence[Movement], now: datetime
) -> tuple[str, list]:
    """FIRE_SQL for this batch and its parameters.

    The benchmark EXPLAINs it.
    """
    batch_sql, batch_params = _batch_cte(changes)
    moves_sql, moves_params = _moves_cte(movements)
    sql = FIRE_SQL.format(
        batch=batch_sql,
        moves=moves_sql,
        matching=matching_sql(),
        active=Status.ACTIVE,
        once=Frequency.ONCE,
        every_time=Frequency.EVERY_TIME,
        triggered=Status.TRIGGERED,
        levels=_in([Condition.ABOVE, Condition.BELOW]),
        lock=_LOCK,
        # Null-safe: the match columns a claim re-checks may be NULL.
        same_match="("
        + " AND ".join(f"a.{column} IS NOT DISTINCT FROM m.{column}" for column in MATCH_COLUMNS)
        + ")",
        movements=_in(MOVEMENT_CONDITIONS),
        above=Condition.ABOVE,
        deliveries=DELIVERIES_INSERT_SQL.format(source="fired"),
    )
    # The claim's cooldown and expiry checks, the new cooldown end,
    # last_triggered_at, updated_at and the events' triggered_at.
    return sql, [*batch_params, *moves_params, now, now, now, now, now, now]


def firing_reason(alert: Alert, change: PriceChange, moves: dict[tuple[int, str], Movement]) -> str:
    """Why the alert fired, in words, e.g. "Price crossed up through 30000 (29950 → 30010)."."""
    # FIRE_SQL builds the same texts: change one, change both.
    price = decimal_text(change.price)
    if alert.is_movement:
        movement = moves[(alert.coin_id, alert.window)]
        return movement_reason_start(movement) + f"{decimal_text(alert.percent)}% asked for."
    target = decimal_text(alert.target)
    if alert.is_level:
        side = "above" if alert.condition == Condition.ABOVE else "below"
        return f"Price {price} is at or {side} {target}."
    return (
        f"Price crossed {crossing_direction(change)} through {target} "
        f"({decimal_text(change.previous_price)} → {price})."
    )


# Window(value).label builds an enum member per call; 750 calls a batch.
_WINDOW_LABELS = dict(Window.choices)


def movement_reason_start(movement: Movement) -> str:
    """A movement alert's reason up to its own percent ("… at least the ")."""
    verb = "rose" if movement.change_pct > 0 else "fell"
    return (
        f"Price {verb} {abs(movement.change_pct):.2f}% within {_WINDOW_LABELS[movement.window]} "
        f"({decimal_text(movement.reference)} → {decimal_text(movement.price)}), at least the "
    )


def crossing_direction(change: PriceChange) -> str:
    return "up" if change.price > change.previous_price else "down"


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


def rearm_level_alerts(changes: Sequence[PriceChange]) -> int:
    """Re-arm every_time level alerts whose condition is false at this batch.

    Served by alert_disarmed_target_idx; edge and movement alerts never
    disarm (their cooldown alone spaces their firings).
    """
    batch_sql, params = _batch_cte(changes)
    matching = " UNION ALL ".join(
        (
            _matching_part("batch", [Condition.ABOVE], "a.target > b.price", False),
            _matching_part("batch", [Condition.BELOW], "a.target < b.price", False),
        )
    )
    sql = REARM_SQL.format(batch=batch_sql, matching=matching, active=Status.ACTIVE, lock=_LOCK)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount
