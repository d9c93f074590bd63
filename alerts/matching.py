"""Which alerts a price batch matches, found with indexed range scans in SQL.

A batch goes to PostgreSQL as rows (`batch`: one per coin; `moves`: one per
coin and window, from window_movements), and matching_sql() finds, per
condition, the active alerts whose target or percent the rows reach: levels
have the target on the right side of the price, edges between the previous
and the current price, movements a percent at most the window's change;
metric conditions compare a threshold with the coin's market cap, 24 h
volume or 24 h change, ranges are edges on either bound, and steps are
levels on the band the alert carries (alerts.steps).
alerts.claiming claims what matches.

An alert is set in a currency (Alert.currency) and matched in it: the rows
go in once per coin and currency that active alerts use, each converted
with that currency's current rate (evaluated_rates); a currency whose rate
is stale has no rows, so its alerts wait (docs/currencies.md#alerts-in-a-currency).
A movement's percent is the same in every currency (both ends convert with
the one current rate); only its reason's prices are converted.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from alerts.models import WINDOW_DURATIONS, Condition, Status
from alerts.reasons import (
    metric_texts,
    movement_reason_start,
    price_text,
    price_texts,
)
from common.display_currencies import currency_unit
from prices.currencies import Rate, base_rate, current_rates

HUNDRED = Decimal(100)


# The market figures a batch item may carry beside the price, each with its
# previous value (prices.ingest); absent or null when CoinGecko sent none.
METRIC_KEYS = (
    "market_cap",
    "previous_market_cap",
    "volume_24h",
    "previous_volume_24h",
    "change_24h_pct",
    "previous_change_24h_pct",
)


@dataclass(frozen=True)
class PriceChange:
    """One coin's new price and market figures, as the pipeline reports them."""

    coin_id: int
    tick_id: int | None
    price: Decimal
    previous_price: Decimal | None
    time: datetime
    market_cap: Decimal | None = None
    previous_market_cap: Decimal | None = None
    volume_24h: Decimal | None = None
    previous_volume_24h: Decimal | None = None
    change_24h_pct: Decimal | None = None
    previous_change_24h_pct: Decimal | None = None

    @classmethod
    def from_message(cls, item: dict) -> PriceChange:
        time = item["time"]
        if isinstance(time, str):
            time = parse_datetime(time)
        if time is None or timezone.is_naive(time):
            raise ValueError(f"batch item time must be an aware ISO 8601 time: {item!r}")
        return cls(
            coin_id=int(item["coin_id"]),
            tick_id=int(item["tick_id"]) if item.get("tick_id") is not None else None,
            price=Decimal(str(item["price"])),
            previous_price=_decimal(item.get("previous_price")),
            time=time,
            **{key: _decimal(item.get(key)) for key in METRIC_KEYS},
        )


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@dataclass(frozen=True)
class Movement:
    """How far a coin's price moved within a window, in percent."""

    coin_id: int
    window: str
    reference: Decimal
    change_pct: Decimal
    price: Decimal


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


# The columns of a `batch` row, which MATCH_RULES and REASON_SQL read as `b`.
# The texts are the coin's parts of the reasons (alerts.reasons), made here
# once per coin for the firing statement.
BATCH_COLUMNS = (
    ("coin_id", "BIGINT"),
    ("currency", "TEXT"),
    ("rate", "NUMERIC"),
    ("unit", "TEXT"),
    ("price", "NUMERIC"),
    ("previous", "NUMERIC"),
    ("tick_id", "BIGINT"),
    ("market_cap", "NUMERIC"),
    ("previous_market_cap", "NUMERIC"),
    ("volume_24h", "NUMERIC"),
    ("change_24h_pct", "NUMERIC"),
    ("price_text", "TEXT"),
    ("previous_text", "TEXT"),
    ("direction", "TEXT"),
    ("market_cap_text", "TEXT"),
    ("previous_market_cap_text", "TEXT"),
    ("volume_text", "TEXT"),
    ("change_text", "TEXT"),
)


def batch_cte(changes: Sequence[PriceChange], rates: Sequence[Rate] = ()) -> tuple[str, list]:
    """The `batch` rows: one per coin and currency in `rates` (the base when none)."""
    rows = []
    for rate in rates or (base_rate(),):
        convert = rate.multiply
        # The reasons' texts: plain numbers in the base (price_text's None).
        worded_in = None if rate.is_base else rate.currency
        unit = currency_unit(rate.currency)
        for change in changes:
            price, previous = convert(change.price), convert(change.previous_price)
            market_cap = convert(change.market_cap)
            previous_market_cap = convert(change.previous_market_cap)
            volume = convert(change.volume_24h)
            rows.append(
                [
                    change.coin_id,
                    rate.currency,
                    rate.factor,
                    unit,
                    price,
                    previous,
                    change.tick_id,
                    market_cap,
                    previous_market_cap,
                    volume,
                    change.change_24h_pct,
                    *price_texts(price, previous, worded_in),
                    *metric_texts(
                        market_cap,
                        previous_market_cap,
                        volume,
                        change.change_24h_pct,
                        worded_in,
                    ),
                ]
            )
    return _rows_cte("batch", BATCH_COLUMNS, rows)


# One row per coin and window: the rise, the fall (both positive, NULL when
# the price went the other way), the absolute move, and the start of the
# reason of a movement alert firing on it. The preview's history rows have
# these columns too (alerts.preview).
MOVES_COLUMNS = (
    ("coin_id", "BIGINT"),
    ("currency", "TEXT"),
    ("win", "TEXT"),
    ("rise", "NUMERIC"),
    ("fall", "NUMERIC"),
    ("swing", "NUMERIC"),
    ("reason_start", "TEXT"),
)


def moves_cte(movements: Sequence[Movement], rates: Sequence[Rate] = ()) -> tuple[str, list]:
    """The `moves` rows: one per coin, window and currency in `rates` (the base when none)."""
    rows = []
    for rate in rates or (base_rate(),):
        worded_in = None if rate.is_base else rate.currency
        price_texts_of: dict[int, str] = {}  # a coin's price, worded once for its windows
        for movement in movements:
            now_text = price_texts_of.get(movement.coin_id)
            if now_text is None:
                now_text = price_text(rate.multiply(movement.price), worded_in)
                price_texts_of[movement.coin_id] = now_text
            rows.append(
                [
                    movement.coin_id,
                    rate.currency,
                    movement.window,
                    movement.change_pct if movement.change_pct > 0 else None,
                    -movement.change_pct if movement.change_pct < 0 else None,
                    abs(movement.change_pct),
                    movement_reason_start(
                        movement.window,
                        price_text(rate.multiply(movement.reference), worded_in),
                        now_text,
                        movement.change_pct,
                    ),
                ]
            )
    return _rows_cte("moves", MOVES_COLUMNS, rows)


# The currencies active alerts are set in: a skip scan of
# alert_active_currency_idx, one index probe per currency.
CURRENCIES_IN_USE_SQL = f"""
WITH RECURSIVE used(currency) AS (
    (SELECT currency FROM alerts_alert WHERE status = '{Status.ACTIVE}'
        ORDER BY currency LIMIT 1)
    UNION ALL
    SELECT (SELECT a.currency FROM alerts_alert a
            WHERE a.status = '{Status.ACTIVE}' AND a.currency > u.currency
            ORDER BY a.currency LIMIT 1)
    FROM used u WHERE u.currency IS NOT NULL
)
SELECT currency FROM used WHERE currency IS NOT NULL
"""  # noqa: S608 (constants only)


def evaluated_rates(now: datetime | None = None) -> list[Rate]:
    """The currencies a batch is matched in: the base, and each other one that
    active alerts use and whose rate is not stale (prices.currencies).

    Alerts in a currency whose rate is stale or was never fetched are left
    out until a fresh rate comes; their pages say so (alerts.currency_status).
    """
    usable = {code: rate for code, rate in current_rates(now).items() if not rate.stale}
    base = base_rate()
    if len(usable) <= 1:
        return [base]
    with connection.cursor() as cursor:
        cursor.execute(CURRENCIES_IN_USE_SQL)
        used = [row[0] for row in cursor.fetchall()]
    return [base, *(usable[code] for code in used if code in usable and code != base.currency)]


def sql_in(conditions: Iterable[str]) -> str:
    return "(" + ", ".join(f"'{condition}'" for condition in conditions) + ")"


def matching_part(
    source: str,
    conditions: Iterable[str],
    predicate: str,
    armed: bool = True,
    rows: str = "TRUE",
) -> str:
    """Alerts of one condition that match a batch row: one index range scan per row.

    Served by the armed indexes (alert_armed_target_idx, _percent_idx,
    _threshold_idx, _range_low_idx, _range_high_idx, _step_low_idx,
    _step_high_idx) and, re-arming, alert_disarmed_target_idx and
    alert_disarmed_threshold_idx. `rows` keeps only the batch rows
    the predicate can hold for (e.g. rising coins for crosses_up): an index
    probe costs microseconds even when it finds nothing, and a batch makes
    thousands of them.
    """
    join = "a.coin_id = b.coin_id AND a.currency = b.currency"
    if source == "moves":
        join += ' AND a."window" = b.win'
    # Only this module's constants are formatted in; values are parameters.
    where = (
        f"a.status = '{Status.ACTIVE}' AND {'' if armed else 'NOT '}a.armed "
        f"AND a.condition IN {sql_in(conditions)} AND {predicate}"
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
MATCH_COLUMNS = (
    "coin_id",
    "currency",
    "condition",
    "target",
    "percent",
    '"window"',
    "threshold",
    "range_low",
    "range_high",
    "step_low",
    "step_high",
)


@dataclass(frozen=True)
class MatchRule:
    """When an alert of these conditions matches a row: each condition's rule, stated once.

    `predicate` is SQL over `a` (the alert's columns) and `b` (a row of
    `source`: "batch", one per coin, or "moves", one per coin and window).
    `rows` keeps only the rows the predicate can hold for, on `b` alone.
    Live evaluation (matching_sql, claiming) and the preview's replay of
    history (alerts.preview) both match through these, so they cannot differ.
    """

    source: str
    conditions: tuple[str, ...]
    predicate: str
    rows: str = "TRUE"


# Edges: a jump over the target within one tick counts, and without a
# previous price (NULL) no edge matches.
MATCH_RULES = (
    MatchRule("batch", (Condition.ABOVE,), "a.target <= b.price"),
    MatchRule("batch", (Condition.BELOW,), "a.target >= b.price"),
    MatchRule(
        "batch",
        (Condition.CROSSES_UP, Condition.CROSSES),
        "a.target > b.previous AND a.target <= b.price",
        "b.price > b.previous",
    ),
    MatchRule(
        "batch",
        (Condition.CROSSES_DOWN, Condition.CROSSES),
        "a.target < b.previous AND a.target >= b.price",
        "b.price < b.previous",
    ),
    MatchRule("moves", (Condition.PCT_UP,), "a.percent <= b.rise", "b.rise IS NOT NULL"),
    MatchRule("moves", (Condition.PCT_DOWN,), "a.percent <= b.fall", "b.fall IS NOT NULL"),
    MatchRule("moves", (Condition.PCT_MOVE,), "a.percent <= b.swing", "b.swing > 0"),
    # Metric levels and crosses: the threshold against the coin's market
    # figure in the batch row; a figure CoinGecko did not send (NULL) never
    # matches, nor does a crossing without the previous figure.
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_ABOVE,),
        "a.threshold <= b.market_cap",
        "b.market_cap IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_BELOW,),
        "a.threshold >= b.market_cap",
        "b.market_cap IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_CROSSES,),
        "a.threshold > b.previous_market_cap AND a.threshold <= b.market_cap",
        "b.market_cap > b.previous_market_cap",
    ),
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_CROSSES,),
        "a.threshold < b.previous_market_cap AND a.threshold >= b.market_cap",
        "b.market_cap < b.previous_market_cap",
    ),
    MatchRule(
        "batch",
        (Condition.VOLUME_ABOVE,),
        "a.threshold <= b.volume_24h",
        "b.volume_24h IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.VOLUME_BELOW,),
        "a.threshold >= b.volume_24h",
        "b.volume_24h IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.CHANGE_ABOVE,),
        "a.threshold <= b.change_24h_pct",
        "b.change_24h_pct IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.CHANGE_BELOW,),
        "a.threshold >= b.change_24h_pct",
        "b.change_24h_pct IS NOT NULL",
    ),
    # Ranges are edges: the previous price on the other side of [range_low,
    # range_high]. A rising price enters over the low bound and leaves over
    # the high one, a falling price the other way round: each is one range
    # scan on the bound crossed, the other bound checked in the same index.
    # A jump over the whole range crosses both bounds and matches neither.
    MatchRule(
        "batch",
        (Condition.ENTERS_RANGE,),
        "a.range_low > b.previous AND a.range_low <= b.price AND a.range_high >= b.price",
        "b.price > b.previous",
    ),
    MatchRule(
        "batch",
        (Condition.ENTERS_RANGE,),
        "a.range_high < b.previous AND a.range_high >= b.price AND a.range_low <= b.price",
        "b.price < b.previous",
    ),
    MatchRule(
        "batch",
        (Condition.EXITS_RANGE,),
        "a.range_high >= b.previous AND a.range_high < b.price AND a.range_low <= b.previous",
        "b.price > b.previous",
    ),
    MatchRule(
        "batch",
        (Condition.EXITS_RANGE,),
        "a.range_low <= b.previous AND a.range_low > b.price AND a.range_high >= b.previous",
        "b.price < b.previous",
    ),
    # Steps: levels on the alert's band (alerts.steps), which the claim moves
    # to the price each time the alert fires. The constant bound holds for
    # every band (a trigger is above zero, and a step down's at most its
    # reference, a price below 10^12); it tells the planner each probe is a
    # bounded range of the band's index. Open-ended, it guessed a third of
    # the coin's steps and read every alert of the coin through its coin_id
    # index instead (alerts/tests/test_matching_plan.py).
    MatchRule(
        "batch",
        (Condition.PCT_STEP_UP, Condition.PCT_STEP),
        "a.step_high > 0 AND a.step_high <= b.price",
    ),
    MatchRule(
        "batch",
        (Condition.PCT_STEP_DOWN, Condition.PCT_STEP),
        "a.step_low >= b.price AND a.step_low < 1000000000000",
    ),
)

# A disarmed every_time level alert re-arms on a row where its condition is
# false again (alerts.claiming.rearm_level_alerts).
REARM_RULES = (
    MatchRule("batch", (Condition.ABOVE,), "a.target > b.price"),
    MatchRule("batch", (Condition.BELOW,), "a.target < b.price"),
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_ABOVE,),
        "a.threshold > b.market_cap",
        "b.market_cap IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.MARKET_CAP_BELOW,),
        "a.threshold < b.market_cap",
        "b.market_cap IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.VOLUME_ABOVE,),
        "a.threshold > b.volume_24h",
        "b.volume_24h IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.VOLUME_BELOW,),
        "a.threshold < b.volume_24h",
        "b.volume_24h IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.CHANGE_ABOVE,),
        "a.threshold > b.change_24h_pct",
        "b.change_24h_pct IS NOT NULL",
    ),
    MatchRule(
        "batch",
        (Condition.CHANGE_BELOW,),
        "a.threshold < b.change_24h_pct",
        "b.change_24h_pct IS NOT NULL",
    ),
)


def matching_sql() -> str:
    """Every armed alert that matches this batch: MATCH_RULES, one index scan per row."""
    return " UNION ALL ".join(
        matching_part(rule.source, rule.conditions, rule.predicate, rows=rule.rows)
        for rule in MATCH_RULES
    )
