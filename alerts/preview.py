"""How often an alert would have fired: its replay over the stored history.

The preview (docs/alerts.md#preview-how-often-would-it-have-fired) replays
the last PREVIEW_DAYS of one coin through the live matching rules:

1. SQL (`_SEGMENTS_SQL`, one statement) builds the history as rows with the
   columns of the live `batch` and `moves` rows (alerts.matching): stored
   figures from the ticks, the previous ones by LAG, a movement's reference
   by first_value over the window's RANGE frame, which is the live rule (the
   first stored tick at or after time − W). Raw ticks where they are kept,
   minute closes before. Each row is matched by the condition's MATCH_RULES
   and REARM_RULES predicates, the SQL live evaluation runs, against `a`:
   the unsaved alert as a one-row VALUES with the alert table's columns.
   Only the rows where what holds changes (a run of matching or re-arming
   rows starts) come back, read as the walk goes (`Replay`). A step alert,
   whose band moves at each firing, instead gets its next firing from one
   probe of the (coin, time) index (`_PROBE_SQL`: the first row from the
   cooldown's end where the same MATCH_RULES predicate holds on the row).
2. Python (`walk`) applies the sequential state the claim applies live
   (alerts.claiming): once or every_time, the cooldown, a level's disarm and
   re-arm, the expiry, a step alert's band moving to each firing price. It
   looks up a row inside a run only when a cooldown ends there (`RowsAfter`).
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from alerts import matching

# The evaluator's SET LOCAL that puts the settings back inside a caller's
# transaction: one implementation of it.
from alerts.evaluation import apply_plan_settings
from alerts.matching import BATCH_COLUMNS, MATCH_RULES, REARM_RULES, MatchRule
from alerts.models import STEP_CONDITIONS, WINDOW_DURATIONS, Alert, Frequency, Status
from prices.currencies import Rate, base_rate, usable_rate
from prices.history import price_history
from prices.models import Coin, Resolution

PREVIEW_DAYS = 30
# Firings listed (newest first) and marked on the chart; the counts are whole.
MAX_FIRINGS = 10
# The walk stops at this many firings: an alert that noisy is answered as
# such, and a step alert's replay (a probe per firing) stays bounded; a
# 0.01 % step every minute would otherwise cost 43,000 statements a request.
MAX_REPLAYED_FIRINGS = 500
# Counted periods, newest last: (name, length).
PERIODS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)))
# Points of the chart of the replayed range (the history's closes, thinned).
MAX_CHART_POINTS = 240
# Before the replayed range, enough rows for the first row's previous price.
LEAD_IN = timedelta(hours=1)
# When a cooldown ends inside a run, the history's row times are fetched this
# many cooldowns ahead (at least MIN_FETCH_SPAN, a thousand 10-second ticks,
# for a round trip's worth of rows), doubling up to MAX_FETCH_SPAN while the
# walk keeps asking further: the later firings are then found in memory.
COOLDOWNS_PER_FETCH = 8
# From this cooldown on (some 180 ten-second ticks), one index probe a
# cooldown end instead, a run's probes chained in one statement.
PROBE_COOLDOWN = timedelta(minutes=30)
MIN_FETCH_SPAN = timedelta(hours=3)
MAX_FETCH_SPAN = timedelta(days=8)
# Runs read from the server-side cursor at first, doubling up to MAX_FETCH.
FIRST_FETCH = 2
MAX_FETCH = 1024


@dataclass(frozen=True)
class Firing:
    time: datetime
    price: Decimal | None  # None until looked up (RowsAfter finds times only)


@dataclass
class Preview:
    """What the alert would have done between `from_at` and `to_at`."""

    from_at: datetime | None
    to_at: datetime
    # "ticks", "1m" (minute closes) or "1m+ticks": what the rows were.
    resolution: str
    # Where raw ticks begin (None: no tick in the range).
    ticks_from: datetime | None
    firings: list[Firing] = field(default_factory=list)  # oldest first, all of them
    chart: list[tuple[datetime, Decimal]] = field(default_factory=list)

    @property
    def capped(self) -> bool:
        """The walk stopped at MAX_REPLAYED_FIRINGS: counts are lower bounds."""
        return len(self.firings) >= MAX_REPLAYED_FIRINGS

    def fired_within(self, span: timedelta) -> int:
        since = self.to_at - span
        return len(self.firings) - bisect.bisect_right([f.time for f in self.firings], since)

    @property
    def covered(self) -> timedelta:
        """How much history was replayed (less than PREVIEW_DAYS for a young coin)."""
        return self.to_at - self.from_at if self.from_at else timedelta(0)

    @property
    def short(self) -> bool:
        return self.covered < timedelta(days=PREVIEW_DAYS)


# --- The rules and the rows they read ------------------------------------------


def rules_for(condition: str, rules: Sequence[MatchRule]) -> list[MatchRule]:
    return [rule for rule in rules if condition in rule.conditions]


_B_COLUMN = re.compile(r'\bb\."?(\w+)"?')


def referenced_columns(rules: Sequence[MatchRule]) -> list[str]:
    """The `b` columns these rules read, in first-use order."""
    found: dict[str, None] = {}
    for rule in rules:
        for text in (rule.rows, rule.predicate):
            found.update(dict.fromkeys(_B_COLUMN.findall(text)))
    return list(found)


def live_columns() -> dict[str, str]:
    """The live `batch` and `moves` rows' columns and SQL types (alerts.matching)."""
    return {**dict(matching.MOVES_COLUMNS), **dict(BATCH_COLUMNS)}


class NoHistoryColumn(ValueError):
    """A match rule reads a batch column the history has no expression for."""


# The stored figures of a history row (`raw` below), by their batch names.
RAW_COLUMNS = ("tick_id", "price", "market_cap", "volume_24h", "change_24h_pct")

# A moves column from the window's reference (`reference`, first_value over
# the window) and the row's price. As live (alerts.matching.moves_cte):
# change = (price − reference) / reference × 100, rise and fall positive or
# NULL, swing its absolute value.
# (PostgreSQL computes a window function written several times once.)
REFERENCE = "first_value(r.price) OVER w"
MOVE_EXPRESSIONS = {
    "rise": "CASE WHEN r.price > {ref} THEN (r.price - {ref}) / {ref} * 100 END",
    "fall": "CASE WHEN r.price < {ref} THEN ({ref} - r.price) / {ref} * 100 END",
    "swing": "abs(r.price - {ref}) / {ref} * 100",
}


def history_expression(column: str, window: str, back: int = 0) -> str:
    """SQL for a live batch or moves column over the history row `r` (window `w`).

    A stored figure is read from the row; `previous` and `previous_<figure>`
    are the row before's (LAG, as the live batch carries the coin's last
    snapshot); a movement's figures come from the window's reference. With
    `back`, the column of the row that many rows before (batch columns only).
    """
    if column == "coin_id":
        return "%(coin)s"
    if column == "win":
        return "%(window)s"
    if column in MOVE_EXPRESSIONS and not back:
        return MOVE_EXPRESSIONS[column].format(ref=REFERENCE)
    figure, shift = column, back
    if column.startswith("previous"):
        figure, shift = column.removeprefix("previous").lstrip("_") or "price", back + 1
    if figure in RAW_COLUMNS:
        return f"lag(r.{figure}, {shift}) OVER w" if shift else f"r.{figure}"
    raise NoHistoryColumn(f"The preview has no history for the batch column {column!r}")


# --- The statement ------------------------------------------------------------

MATCHES, REARMS = 1, 2  # the bits of a history row's `state`


def alert_values(alert: Alert) -> tuple[str, list]:
    """The CTE `a`: the unsaved alert as one row with the alert table's columns and types."""
    fields = Alert._meta.concrete_fields
    params = [f.get_db_prep_save(getattr(alert, f.attname), connection) for f in fields]
    return _alert_row_sql(), params


@functools.cache
def _alert_row_sql() -> str:
    """alert_values' SQL, the same for every alert: made once (a step's probes need it often)."""
    fields = Alert._meta.concrete_fields
    quote = connection.ops.quote_name
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    names = ", ".join(quote(f.column) for f in fields)
    # Only the model's own column names and types are formatted in.
    return f"a AS (SELECT * FROM (VALUES ({values})) AS a({names}))"  # noqa: S608


# The history of one coin: minute closes before the first raw tick, ticks
# from it. Each part is a range scan of its (coin, time) index; without
# minute closes in the range (the usual case: ticks are kept 30 days) the
# ticks alone, already in time order for the window functions.
_TICKS = """
    SELECT id AS tick_id, time, {price}, {market_cap}, {volume_24h}, change_24h_pct
    FROM prices_pricetick
    WHERE coin_id = %(coin)s AND time >= greatest(%(scan_from)s, %(ticks_from)s)
        AND time <= %(to)s
"""
_MINUTES = """
    SELECT NULL::bigint AS tick_id, close_time AS time, {close},
        NULL::numeric AS market_cap, NULL::numeric AS volume_24h,
        NULL::numeric AS change_24h_pct
    FROM prices_pricerollup
    WHERE coin_id = %(coin)s AND resolution = %(minute)s
        AND bucket > %(scan_from)s - INTERVAL '1 minute' AND close_time >= %(scan_from)s
        AND close_time < %(ticks_from)s AND close_time <= %(to)s
"""


def _in_currency(column: str, name: str, bounds: dict) -> str:
    """A stored amount in the alert's currency: times the rate's factor, exact, as
    live batches are converted (prices.currencies.Rate.multiply); as stored in the base."""
    if bounds.get("factor") is None:
        return column if column == name else f"{column} AS {name}"
    return f"{column} * %(factor)s AS {name}"


def raw_history(bounds: dict) -> str:
    """The stored rows of the range: ticks, after minute closes where there are no ticks.

    Prices, market caps and volumes are in the alert's currency when
    `bounds` has a `factor` (history_bounds): converted on read with the
    current rate, as pages convert history (docs/currencies.md).
    """
    ticks = _TICKS.format(
        **{name: _in_currency(name, name, bounds) for name in ("price", "market_cap", "volume_24h")}
    )
    if not bounds.get("minutes_before_ticks") or bounds["ticks_from"] <= bounds["scan_from"]:
        return ticks
    minutes = _MINUTES.format(close=_in_currency("close", "price", bounds))
    return f"SELECT * FROM (({minutes}) UNION ALL ({ticks})) raw ORDER BY time"  # noqa: S608


# The frame of a window only LAG reads (LAG counts rows, whatever the frame):
# a frame in rows, as the default one in RANGE mode makes PostgreSQL compare
# each row's time with the next to find its peers (some 10 ms a month).
LAG_FRAME = "ROWS CURRENT ROW"

# `b` holds the history rows of the replayed range with the live rows'
# columns; ORDER BY ... OFFSET 0 computes each column once per row (an
# inlined subquery would repeat a movement's division in every predicate that
# reads it) and tells the planner the rows are in time order, so the second
# window needs no sort. `state` is 1 where a match rule holds, 2 where a
# re-arm rule holds (3: both); only the first row of each run of equal states
# comes back (a run ends where the next begins).
_SEGMENTS_SQL = """
WITH {a},
raw AS ({raw}),
b AS (
    SELECT r.time, {columns}
    FROM raw r
    WINDOW w AS (ORDER BY r.time {frame})
    ORDER BY r.time OFFSET 0
),
flags AS (
    SELECT b.time, b.price, {state} AS state
    FROM b CROSS JOIN a
    WHERE b.time >= %(from)s
),
marks AS (
    SELECT f.*, lag(f.state) OVER (ORDER BY f.time {lag_frame}) AS before_state FROM flags f
)
SELECT time, price, state FROM marks
WHERE before_state IS DISTINCT FROM state
ORDER BY time
"""

# Rules that read the batch row alone (no movement): the row before's
# columns come from the same window (`before_*`, LAG one further), its state
# from the same rules, so a single pass over the rows finds the runs. The
# first replayed row always starts a run.
_BATCH_SEGMENTS_SQL = """
WITH {a},
raw AS ({raw}),
b AS (
    SELECT r.time, lag(r.time) OVER w AS before_time, {columns}
    FROM raw r
    WINDOW w AS (ORDER BY r.time {lag_frame})
    ORDER BY r.time OFFSET 0
),
flags AS (
    SELECT b.time, b.before_time, b.price, {state} AS state, {before_state} AS before_state
    FROM b CROSS JOIN a
    WHERE b.time >= %(from)s
)
SELECT time, price, state FROM flags
WHERE before_state IS DISTINCT FROM state OR before_time IS NULL OR before_time < %(from)s
ORDER BY time
"""


def _predicate(rules: Sequence[MatchRule]) -> str:
    if not rules:
        return "FALSE"
    return " OR ".join(f"(({rule.rows}) AND ({rule.predicate}))" for rule in rules)


def _state(match: Sequence[MatchRule], rearm: Sequence[MatchRule]) -> str:
    """SQL of a row's `state`: MATCHES if a match rule holds, plus REARMS if a re-arm rule does."""
    return (
        f"(CASE WHEN ({_predicate(match)}) IS TRUE THEN {MATCHES} ELSE 0 END"
        f" + CASE WHEN ({_predicate(rearm)}) IS TRUE THEN {REARMS} ELSE 0 END)"
    )


def _before(sql: str) -> str:
    """The same SQL over the row before's columns (`b.before_<column>`)."""
    return _B_COLUMN.sub(lambda found: f"b.before_{found.group(1)}", sql)


def segments_statement(
    alert: Alert, bounds: dict, match: Sequence[MatchRule], rearm: Sequence[MatchRule]
) -> tuple[str, dict]:
    """_SEGMENTS_SQL (or _BATCH_SEGMENTS_SQL) for this alert and history, with its parameters."""
    window = alert.window or ""
    duration = WINDOW_DURATIONS.get(window)
    types = live_columns()
    needed = referenced_columns([*match, *rearm])
    if "price" not in needed:
        needed.insert(0, "price")
    single_pass = not set(needed) & set(MOVE_EXPRESSIONS)
    # Only the columns the rules read: each window function costs every row.
    columns = []
    for back in (0, 1) if single_pass else (0,):
        prefix = "before_" if back else ""
        for name in needed:
            expression = history_expression(name, window, back)
            kind = types.get(name)
            typed = f"CAST({expression} AS {kind})" if kind else expression
            columns.append(f"{typed} AS {prefix}{name}")
    state = _state(match, rearm)
    frame = ""
    if duration is not None and not single_pass:
        seconds = int(duration.total_seconds())
        frame = f"RANGE BETWEEN INTERVAL '{seconds} seconds' PRECEDING AND CURRENT ROW"
    a_sql, a_params = alert_values(alert)
    # The alert's values are the statement's first parameters: `a` comes
    # first, positional placeholders turned into named ones.
    named = {f"a{index}": value for index, value in enumerate(a_params)}
    a_sql = _number_placeholders(a_sql)
    template = _BATCH_SEGMENTS_SQL if single_pass else _SEGMENTS_SQL
    sql = template.format(
        a=a_sql,
        raw=raw_history(bounds),
        frame=frame,
        lag_frame=LAG_FRAME,
        columns=", ".join(columns),
        state=state,
        before_state=_before(state),
    )
    params = {
        **named,
        **bounds,
        "coin": alert.coin_id,
        "window": window,
        "minute": str(Resolution.MINUTE),
    }
    return sql, params


def reads_stored_figures(rules: Sequence[MatchRule]) -> bool:
    """Whether the rules read only a row's own stored figures (no LAG, no window)."""
    return set(referenced_columns(rules)) <= set(RAW_COLUMNS)


# The first history row at or after `from` where the match rules hold (or,
# `holds` false, do not): the rows of the (coin, time) index range read in
# time order until one does. For rules that read a row's stored figures
# alone (reads_stored_figures), the same predicates as _SEGMENTS_SQL's state.
_PROBE_SQL = """
WITH {a},
raw AS ({raw})
SELECT b.time, b.price
FROM (SELECT r.time, {columns} FROM raw r WHERE r.time >= %(from)s) b CROSS JOIN a
WHERE {condition}
ORDER BY b.time
LIMIT 1
"""


def probe_statement(
    alert: Alert, bounds: dict, match: Sequence[MatchRule], holds: bool = True
) -> tuple[str, dict]:
    """_PROBE_SQL for this alert, from `bounds["from"]`, with its parameters."""
    types = live_columns()
    needed = referenced_columns(match)
    if "price" not in needed:
        needed.insert(0, "price")
    columns = ", ".join(
        f"CAST({history_expression(name, '')} AS {types[name]}) AS {name}" for name in needed
    )
    condition = f"({_predicate(match)}) IS TRUE"
    a_sql, a_params = alert_values(alert)
    sql = _PROBE_SQL.format(
        a=_number_placeholders(a_sql),
        raw=raw_history(bounds),
        columns=columns,
        condition=condition if holds else f"NOT {condition}",
    )
    params = {
        **{f"a{index}": value for index, value in enumerate(a_params)},
        **bounds,
        "coin": alert.coin_id,
        "minute": str(Resolution.MINUTE),
    }
    return sql, params


def _number_placeholders(sql: str) -> str:
    counter = iter(range(10_000))
    return re.sub(r"%s", lambda _: f"%(a{next(counter)})s", sql)


# --- Running it ---------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """Consecutive history rows where the same rules hold: match (m), re-arm (r)."""

    start: datetime
    price: Decimal
    m: bool
    r: bool
    # Where the next run starts (after the last run: after the history), read
    # only when asked: a walk that fires on this run's first row and stops
    # (once) or restarts (a step) never makes PostgreSQL look further.
    until: Callable[[], datetime]


def runs_of(rows: Iterable[tuple], to: datetime) -> Iterator[Run]:
    """The runs of _SEGMENTS_SQL's rows (each run's first row) of a history ending at `to`."""
    rows = iter(rows)
    row = next(rows, None)
    end = to + timedelta(microseconds=1)
    while row is not None:
        time, price, state = row
        following: list[tuple | None] = []

        def until(following: list = following) -> datetime:
            if not following:
                following.append(next(rows, None))
            return following[0][0] if following[0] is not None else end

        yield Run(time, price, bool(state & MATCHES), bool(state & REARMS), until)
        row = following[0] if following else next(rows, None)


Lookup = Callable[[datetime, datetime], Firing | None]


def walk(alert: Alert, replay: Replay, row_at_or_after: Lookup) -> list[Firing]:
    """The firings, oldest first: the claim's state applied run by run.

    As alerts.claiming: each row first re-arms a disarmed alert its
    re-arm rule holds for (REARM_SQL), then fires an armed alert its match
    rule holds for unless in cooldown or expired (FIRE_SQL); once ends the
    alert, every_time starts a cooldown, a level (Alert.is_level) also
    disarms, and a step alert's band moves to the firing price
    (Alert.start_step, alerts.steps), after which the history from the
    cooldown's end is matched again against the new band. Inside a run
    every row is alike, so only its first row and, when a cooldown ends
    inside it, the first row at or after that end can fire;
    `row_at_or_after(time, until)` finds that row (None: none before
    `until`, the next run's start).
    """
    once = alert.frequency == Frequency.ONCE
    disarms = alert.frequency == Frequency.EVERY_TIME and alert.is_level
    moves_band = alert.condition in STEP_CONDITIONS
    cooldown = timedelta(seconds=alert.cooldown_seconds or 0)
    armed, cooldown_until, fired = True, None, []
    runs: Iterable[Run] | None = replay.runs(alert)
    while runs is not None:
        after = None
        for run in runs:
            if run.r:
                armed = True
            row: Firing | None = Firing(run.start, run.price) if run.m else None
            while row is not None and armed:
                if cooldown_until is not None and row.time < cooldown_until:
                    row = row_at_or_after(cooldown_until, run.until())
                    continue
                if alert.expires_at is not None and row.time >= alert.expires_at:
                    return fired
                fired.append(row)
                if once or len(fired) >= MAX_REPLAYED_FIRINGS:
                    return fired
                # A cooldown of 0 (never saved: every_time needs 60 s) is the next row.
                cooldown_until = row.time + max(cooldown, timedelta(microseconds=1))
                # A row that re-arms too (run.r) re-arms before its next match.
                armed = run.r or not disarms
                if moves_band:
                    alert.start_step(replay.price_of(row))
                    # Nothing before the cooldown's end can fire, and a step
                    # has no disarm or re-arm to carry over those rows: the
                    # new band is matched from there.
                    after = cooldown_until
                    break
            if after is not None:
                break
        runs = replay.runs(alert, after) if after is not None else None
    return fired


class Replay:
    """The runs of the history for the alert as it is, read as the walk goes.

    Each statement is read through a server-side cursor: a once alert's walk
    ends at its first firing and PostgreSQL stops reading there. A step
    alert, whose rules read the band each firing moves, is asked again after
    each firing with its new band, and answered by index probes
    (`_probed_runs`).
    """

    def __init__(self, bounds: dict, to: datetime) -> None:
        self.bounds, self.to = bounds, to
        self.cursor = None
        self.statements = 0

    def runs(self, alert: Alert, after: datetime | None = None) -> Iterator[Run]:
        bounds = self.bounds
        if after is not None:
            window = WINDOW_DURATIONS.get(alert.window or "", timedelta(0))
            lead = max(window, LEAD_IN)
            bounds = {**bounds, "from": after, "scan_from": after - lead}
        match = rules_for(alert.condition, MATCH_RULES)
        rearm = rules_for(alert.condition, REARM_RULES)
        self.close()
        if alert.condition in STEP_CONDITIONS and not rearm and reads_stored_figures(match):
            return self._probed_runs(alert, bounds, match)
        sql, params = segments_statement(alert, bounds, match, rearm)
        self.cursor = connection.chunked_cursor()
        self.cursor.execute(sql, params)
        self.statements += 1
        return runs_of(self._rows(), self.to)

    def _probed_runs(self, alert: Alert, bounds: dict, match: Sequence[MatchRule]) -> Iterator[Run]:
        """The runs of a step alert, each found by one index probe (probe_statement).

        A step fires on the first row its band's rule holds for and then
        moves its band: only that row matters, and the probe finds it
        reading the (coin, time) index forward from `from` up to it, with no
        window over the rest of the month (the segments statement would
        evaluate every row of it for each band).
        """
        start = bounds["from"]
        end = self.to + timedelta(microseconds=1)
        while True:
            found = self._probe(alert, bounds, start, match, holds=True)
            if found is None:
                return
            time, price = found
            following: list[datetime] = []

            def until(time: datetime = time, following: list = following) -> datetime:
                if not following:
                    row = self._probe(alert, bounds, time, match, holds=False)
                    following.append(row[0] if row is not None else end)
                return following[0]

            yield Run(time, price, True, False, until)
            start = until()
            if start >= end:
                return

    def _probe(
        self, alert: Alert, bounds: dict, start: datetime, match: Sequence[MatchRule], holds: bool
    ) -> tuple | None:
        sql, params = probe_statement(alert, {**bounds, "from": start}, match, holds)
        self.statements += 1
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def _rows(self) -> Iterator[tuple]:
        # A few rows first, more each time: PostgreSQL computes as many as
        # asked, and a walk that restarts (a step's new band) or ends (once)
        # soon would have paid for the whole history's runs.
        size, cursor = FIRST_FETCH, self.cursor
        while rows := cursor.fetchmany(size):
            yield from rows
            size = min(size * 2, MAX_FETCH)

    def price_of(self, row: Firing) -> Decimal:
        return row.price if row.price is not None else with_prices([row], self.bounds)[0].price

    def close(self) -> None:
        if self.cursor is not None:
            self.cursor.close()
            self.cursor = None


# The firings a run of matching rows would give with nothing but the
# cooldown between them: the first row at or after a time, then the first at
# or after that one's time plus the cooldown, and so on (one index probe
# each, on the server), up to `to` and at most `links` rows.
_CHAIN_SQL = """
WITH RECURSIVE chain(time, price, link) AS (
    (SELECT time, price, 1 FROM ({first}) raw ORDER BY time LIMIT 1)
    UNION ALL
    SELECT next.time, next.price, chain.link + 1
    FROM chain CROSS JOIN LATERAL (
        SELECT time, price FROM ({following}) raw ORDER BY time LIMIT 1
    ) next
    WHERE chain.link < %(links)s
)
SELECT time, price FROM chain ORDER BY time
"""


class RowsAfter:
    """The first history row at or after a time, for the walk's cooldown ends.

    With a cooldown of PROBE_COOLDOWN or more, each is an index probe (the
    next firing is that many rows on: reading them all costs more than a
    round trip), and one statement makes the chain of them a run of firings
    asks for (`_CHAIN_SQL`): the first row at or after the time, then the
    first at or after that row's time plus the cooldown, and so on up to
    the run's end, which is where the walk asks next when it fires there.
    Shorter ones read the row times ahead a span at a time, and
    the later firings of a long run, or of the runs that follow, are then
    found among the times already fetched: the span starts at
    COOLDOWNS_PER_FETCH cooldowns (MIN_FETCH_SPAN at least) and doubles while
    the walk keeps asking just past what it fetched. Prices of fetched times
    are looked up afterwards, only for the firings shown (`with_prices`).
    """

    def __init__(self, alert: Alert, bounds: dict) -> None:
        self.params = {"coin": alert.coin_id, "minute": str(Resolution.MINUTE), **bounds}
        cooldown = timedelta(seconds=alert.cooldown_seconds or 0)
        self.probes = cooldown >= PROBE_COOLDOWN
        self.first_span = max(cooldown * COOLDOWNS_PER_FETCH, MIN_FETCH_SPAN)
        self.span = self.first_span
        self.low: datetime | None = None
        self.high: datetime | None = None
        self.times: list[datetime] = []
        self.fetches = 0
        self.cooldown = cooldown
        # The chain's rows by the time asked for, found up to `chain_end`.
        self.chain: dict[datetime, Firing | None] = {}
        self.chain_end: datetime | None = None

    def __call__(self, time: datetime, until: datetime) -> Firing | None:
        # The last row before `until` (times are whole microseconds).
        end = until - timedelta(microseconds=1)
        if self.probes:
            return self._chained(time, end) if time <= end else None
        while time <= end:
            if self.low is not None and self.low <= time <= self.high:
                index = bisect.bisect_left(self.times, time)
                if index < len(self.times):
                    found = self.times[index]
                    return Firing(found, None) if found <= end else None
                time = self.high + timedelta(microseconds=1)
            if time > end:
                break
            self._fetch(time)
        return None

    def _chained(self, time: datetime, end: datetime) -> Firing | None:
        if self.chain_end is None or end > self.chain_end or time not in self.chain:
            self._chain(time, end)
        found = self.chain[time]
        return found if found is not None and found.time <= end else None

    def _chain(self, time: datetime, end: datetime) -> None:
        self.fetches += 1
        params = {**self.params, "scan_from": time, "to": end}
        first = raw_history(params)
        # The same rows, from the chain's last row's time plus the cooldown.
        following = first.replace("%(scan_from)s", "(chain.time + %(cooldown)s)")
        sql = _CHAIN_SQL.format(first=first, following=following)
        params.update(cooldown=self.cooldown, links=MAX_REPLAYED_FIRINGS)
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        self.chain, self.chain_end, asked = {}, end, time
        for found_time, price in rows:
            self.chain[asked] = Firing(found_time, price)
            asked = found_time + self.cooldown
        if len(rows) < MAX_REPLAYED_FIRINGS:
            self.chain[asked] = None  # nothing from there up to `end`

    def _fetch(self, low: datetime) -> None:
        following = self.high is not None and low <= self.high + self.span
        self.span = min(self.span * 2, MAX_FETCH_SPAN) if following else self.first_span
        high = min(low + self.span, self.params["to"])
        self.fetches += 1
        params = {**self.params, "scan_from": low, "to": high}
        sql = f"SELECT time FROM ({raw_history(params)}) raw ORDER BY time"  # noqa: S608
        self.times = [time for (time,) in _binary_rows(sql, params)]
        self.low, self.high = low, high


def _binary_rows(sql: str, params: dict) -> list[tuple]:
    """Rows in PostgreSQL's binary format: thousands of times parse in a millisecond.

    Django's cursors bind parameters on the client, which cannot read binary
    results; this one, on the same connection and transaction, binds on the
    server.
    """
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        # Never a named prepared statement: a transaction-pooling proxy in
        # front of PostgreSQL would not find it on the next connection.
        cursor.execute(sql, params, binary=True, prepare=False)
        return cursor.fetchall()


_PRICES_SQL = """
SELECT time, price FROM ({raw}) raw WHERE time = ANY(%(times)s)
"""


def with_prices(firings: list[Firing], bounds: dict) -> list[Firing]:
    """The firings with their prices, read in one statement for those that lack one."""
    missing = [firing.time for firing in firings if firing.price is None]
    if not missing:
        return firings
    params = {**bounds, "scan_from": min(missing), "to": max(missing), "times": missing}
    params["minute"] = str(Resolution.MINUTE)
    with connection.cursor() as cursor:
        cursor.execute(_PRICES_SQL.format(raw=raw_history(params)), params)
        prices = dict(cursor.fetchall())
    return [Firing(f.time, prices[f.time]) if f.price is None else f for f in firings]


_BOUNDS_SQL = """
SELECT
    (SELECT min(time) FROM prices_pricetick
        WHERE coin_id = %(coin)s AND time >= %(scan_from)s AND time <= %(to)s),
    (SELECT min(close_time) FROM prices_pricerollup
        WHERE coin_id = %(coin)s AND resolution = %(minute)s AND bucket >= %(scan_from)s
            AND close_time <= %(to)s)
"""


def history_bounds(alert: Alert, to: datetime, rate: Rate | None = None) -> dict:
    """The replayed range: from the start of PREVIEW_DAYS (or the first row) to `to`.

    `scan_from` is earlier by the alert's window (or LEAD_IN), so the first
    replayed rows have their previous price and movement reference. Prices
    convert with `rate` (default: replay_rate's).
    """
    start = to - timedelta(days=PREVIEW_DAYS)
    window = WINDOW_DURATIONS.get(alert.window or "", timedelta(0))
    scan_from = start - max(window, LEAD_IN)
    params = {"coin": alert.coin_id, "scan_from": scan_from, "to": to}
    rate = rate or replay_rate(alert)
    with connection.cursor() as cursor:
        cursor.execute(_BOUNDS_SQL, {**params, "minute": str(Resolution.MINUTE)})
        first_tick, first_minute = cursor.fetchone()
    firsts = [time for time in (first_tick, first_minute) if time is not None]
    first = min(firsts) if firsts else None
    return {
        **params,
        "from": max(start, first) if first else to,
        # With no tick at all, every row is a minute close.
        "ticks_from": first_tick or (to + timedelta(microseconds=1)),
        "minutes_before_ticks": first_minute is not None
        and (first_tick is None or first_minute < first_tick),
        "has_history": first is not None and first <= to,
        "factor": None if rate.is_base else rate.factor,
    }


def replay_rate(alert: Alert) -> Rate:
    """The rate history is converted with for the alert's currency: the current one.

    RateUnavailable when it is stale or was never fetched: live evaluation
    would not evaluate the alert either, and a replay at an old rate would
    mislead.
    """
    return usable_rate(alert.currency) if not alert.in_base_currency else base_rate()


# Planner settings for the preview's transaction only (SET LOCAL), as for
# evaluation (alerts.evaluation.PLAN_SETTINGS): read the (coin, time) index
# ranges, never a whole table, and no JIT for a statement of tens of ms.
PREVIEW_SETTINGS = (("jit", "off"), ("enable_seqscan", "off"))


def preview(alert: Alert, to: datetime | None = None, priced: int | None = MAX_FIRINGS) -> Preview:
    """Replay the last PREVIEW_DAYS up to `to` (now) for the unsaved `alert`.

    Every firing is found; the newest `priced` (None: all) carry their price.
    """
    to = to or timezone.now()
    start = _start_state(alert)
    # Read once: the replay and its chart convert with the same rate.
    rate = replay_rate(alert)
    with transaction.atomic():
        previous = apply_plan_settings(PREVIEW_SETTINGS, keep_previous=connection.in_atomic_block)
        result = _replay(start, to, priced, rate)
        apply_plan_settings(previous)
    result.chart = chart_points(alert.coin, result, rate)
    return result


def _replay(alert: Alert, to: datetime, priced: int | None, rate: Rate) -> Preview:
    bounds = history_bounds(alert, to, rate)
    has_history = bounds.pop("has_history")
    ticks_from = bounds["ticks_from"] if bounds["ticks_from"] <= to else None
    result = Preview(
        from_at=bounds["from"] if has_history else None,
        to_at=to,
        resolution=_resolution(bounds["from"], ticks_from),
        ticks_from=ticks_from,
    )
    if not has_history:
        return result
    if alert.condition in STEP_CONDITIONS:
        # As if saved at the start of the replay: its band from the price then.
        alert.start_step(first_price(bounds))
    replay = Replay(bounds, to)
    try:
        firings = walk(alert, replay, RowsAfter(alert, bounds))
    finally:
        replay.close()
    cut = 0 if priced is None else max(0, len(firings) - priced)
    result.firings = firings[:cut] + with_prices(firings[cut:], bounds)
    return result


def first_price(bounds: dict) -> Decimal | None:
    """The price of the first replayed row."""
    rows = raw_history(bounds)
    sql = f"SELECT price FROM ({rows}) raw WHERE time >= %(from)s ORDER BY time LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, {**bounds, "minute": str(Resolution.MINUTE)})
        row = cursor.fetchone()
    return row[0] if row else None


def _start_state(alert: Alert) -> Alert:
    """A copy of the alert as it is when saved: active, armed, no cooldown, never fired."""
    start = Alert(**{f.attname: getattr(alert, f.attname) for f in Alert._meta.concrete_fields})
    start.status, start.armed, start.cooldown_until = Status.ACTIVE, True, None
    start.last_triggered_at = None
    return start


def _resolution(start: datetime, ticks_from: datetime | None) -> str:
    if ticks_from is None:
        return "1m"
    return "ticks" if ticks_from <= start else "1m+ticks"


# The chart's range: the smallest of prices.history's that covers the replay.
_CHART_RANGES = (
    (timedelta(hours=1), "1h"),
    (timedelta(hours=24), "24h"),
    (timedelta(days=7), "7d"),
)


def chart_points(
    coin: Coin, result: Preview, rate: Rate | None = None
) -> list[tuple[datetime, Decimal]]:
    """The coin's closes over the replayed range, at most MAX_CHART_POINTS, in `rate`'s currency."""
    range_key = next((key for span, key in _CHART_RANGES if result.covered <= span), "30d")
    rate = rate or base_rate()
    points = [
        point
        for point in price_history(coin, range_key, now=result.to_at)
        if point[0] >= result.from_at
    ]
    step = -(-len(points) // MAX_CHART_POINTS) if points else 1
    thinned = points[::step]
    if points and thinned[-1] is not points[-1]:
        thinned.append(points[-1])
    # Only the points shown are converted (a month has 720 hourly closes).
    return [(time, rate.convert(price)) for time, price in thinned]
