"""How often an alert would have fired: its replay over the stored history.

The preview (docs/alerts.md#preview-how-often-would-it-have-fired) replays
the last PREVIEW_DAYS of one coin through the live matching rules:

1. SQL (`_SEGMENTS_SQL`, one statement) builds the history as rows with the
   columns of the live `batch` and `moves` rows (alerts.matching): the
   previous price by LAG, a movement's reference by first_value over the
   window's RANGE frame, which is the live rule (the first stored tick at or
   after time − W). Raw ticks where they are kept, minute closes before.
   Each row is matched by the condition's MATCH_RULES and REARM_RULES
   predicates, the SQL live evaluation runs, against `a`: the unsaved alert
   as a one-row VALUES with the alert table's columns. Only the rows where
   what holds changes (a run of matching or re-arming rows starts) come back.
2. Python (`walk`) applies the sequential state the claim applies live
   (alerts.claiming): once or every_time, the cooldown, a level's disarm and
   re-arm, the expiry. It looks up a row inside a run only when a cooldown
   ends there (`_RowsAfter`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from alerts.matching import MATCH_RULES, REARM_RULES, MatchRule, batch_cte, moves_cte
from alerts.models import WINDOW_DURATIONS, Alert, Frequency, Status
from prices.history import price_history
from prices.models import Coin, Resolution

PREVIEW_DAYS = 30
# Firings listed (newest first) and marked on the chart; the counts are whole.
MAX_FIRINGS = 10
# Counted periods, newest last: (name, length).
PERIODS = (("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)))
# Points of the chart of the replayed range (the history's closes, thinned).
MAX_CHART_POINTS = 240
# Before the replayed range, enough rows for the first row's previous price.
LEAD_IN = timedelta(hours=1)
# A run's rows fetched at once when a cooldown ends inside it: this many
# cooldowns ahead (each later firing in the run is then found in memory).
COOLDOWNS_PER_FETCH = 8


@dataclass(frozen=True)
class Firing:
    time: datetime
    price: Decimal


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


_TYPED_COLUMNS = re.compile(r"AS r\((.*)\)\)$")


def live_columns() -> dict[str, str]:
    """The live `batch` and `moves` rows' columns and SQL types (alerts.matching)."""
    columns: dict[str, str] = {}
    for cte, _ in (batch_cte([]), moves_cte([])):
        typed = _TYPED_COLUMNS.search(cte)
        assert typed, cte  # noqa: S101 (alerts.matching's _rows_cte shape)
        for pair in typed.group(1).split(", "):
            name, kind = pair.split(" ", 1)
            columns.setdefault(name, kind)
    return columns


class NoHistoryColumn(ValueError):
    """A match rule reads a batch column the history has no expression for."""


# The stored figures of a history row (`raw` below), by their batch names.
RAW_COLUMNS = ("tick_id", "price", "market_cap", "volume_24h", "change_24h_pct")

# A moves column from the window's reference (`reference`, first_value over
# the window) and the row's price. As live (alerts.matching.moves_cte):
# change = (price − reference) / reference × 100, rise and fall positive or
# NULL, swing its absolute value.
MOVES_COLUMNS = {
    "rise": "CASE WHEN h.price > h.reference THEN (h.price - h.reference) / h.reference * 100 END",
    "fall": "CASE WHEN h.price < h.reference THEN (h.reference - h.price) / h.reference * 100 END",
    "swing": "abs(h.price - h.reference) / h.reference * 100",
}


def history_expression(column: str, window: str) -> str:
    """SQL for a live batch or moves column over the history row `h`.

    A stored figure is read from the row; `previous` and `previous_<figure>`
    are the row before's (LAG, as the live batch carries the coin's last
    snapshot); a movement's figures come from the window's reference.
    """
    if column == "coin_id":
        return "%(coin)s"
    if column == "win":
        return "%(window)s"
    if column in MOVES_COLUMNS:
        return MOVES_COLUMNS[column]
    if column in RAW_COLUMNS:
        return f"h.{column}"
    if column.startswith("previous"):
        figure = column.removeprefix("previous").lstrip("_") or "price"
        if figure in RAW_COLUMNS:
            return f"h.previous_{figure}"
    raise NoHistoryColumn(f"The preview has no history for the batch column {column!r}")


# --- The statement ------------------------------------------------------------


def alert_values(alert: Alert) -> tuple[str, list]:
    """The CTE `a`: the unsaved alert as one row with the alert table's columns and types."""
    fields = Alert._meta.concrete_fields
    quote = connection.ops.quote_name
    values = ", ".join(f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    names = ", ".join(quote(f.column) for f in fields)
    params = [f.get_db_prep_save(getattr(alert, f.attname), connection) for f in fields]
    # Only the model's own column names and types are formatted in.
    return f"a AS (SELECT * FROM (VALUES ({values})) AS a({names}))", params  # noqa: S608


# The history of one coin: minute closes before the first raw tick, ticks
# from it. Each part is a range scan of its (coin, time) index.
_RAW = """
    SELECT NULL::bigint AS tick_id, close_time AS time, close AS price,
        NULL::numeric AS market_cap, NULL::numeric AS volume_24h,
        NULL::numeric AS change_24h_pct
    FROM prices_pricerollup
    WHERE coin_id = %(coin)s AND resolution = %(minute)s
        AND bucket > %(scan_from)s - INTERVAL '1 minute' AND close_time >= %(scan_from)s
        AND close_time < %(ticks_from)s AND close_time <= %(to)s
    UNION ALL
    SELECT id, time, price, market_cap, volume_24h, change_24h_pct
    FROM prices_pricetick
    WHERE coin_id = %(coin)s AND time >= greatest(%(scan_from)s, %(ticks_from)s)
        AND time <= %(to)s
"""

# `marks` keeps the first row of each run of rows where the same rules hold
# (m: a match rule, r: a re-arm rule), with the time of the row before it
# (the end of the run before), and the last row (the end of the last run).
_SEGMENTS_SQL = """
WITH {a},
raw AS ({raw}),
h AS (
    SELECT r.*, {window_columns}
    FROM raw r
    WINDOW w AS (ORDER BY r.time {frame})
),
b AS (
    SELECT h.time, {columns} FROM h WHERE h.time >= %(from)s OFFSET 0
),
flags AS (
    SELECT b.time, b.price, ({match}) IS TRUE AS m, ({rearm}) IS TRUE AS r
    FROM b CROSS JOIN a
),
marks AS (
    SELECT f.*, lag(f.m) OVER w AS before_m, lag(f.r) OVER w AS before_r,
        lag(f.time) OVER w AS before_time, lead(f.time) OVER w IS NULL AS last
    FROM flags f
    WINDOW w AS (ORDER BY f.time)
)
SELECT time, price, m, r, before_time, last,
    (before_m IS DISTINCT FROM m OR before_r IS DISTINCT FROM r) AS starts
FROM marks
WHERE before_m IS DISTINCT FROM m OR before_r IS DISTINCT FROM r OR last
ORDER BY time
"""


def _predicate(rules: Sequence[MatchRule]) -> str:
    if not rules:
        return "FALSE"
    return " OR ".join(f"(({rule.rows}) AND ({rule.predicate}))" for rule in rules)


def segments_statement(
    alert: Alert, bounds: dict, match: Sequence[MatchRule], rearm: Sequence[MatchRule]
) -> tuple[str, dict]:
    """_SEGMENTS_SQL for this alert and history, with its parameters."""
    window = alert.window or ""
    duration = WINDOW_DURATIONS.get(window)
    types = live_columns()
    needed = referenced_columns([*match, *rearm])
    if "price" not in needed:
        needed.insert(0, "price")
    expressions = {name: history_expression(name, window) for name in needed}
    # Only the window functions the rules read: each costs every row.
    window_columns = [
        f"lag(r.{figure}) OVER w AS previous_{figure}"
        for figure in RAW_COLUMNS
        if any(f"h.previous_{figure}" in expression for expression in expressions.values())
    ]
    frame = ""
    if duration is not None:
        window_columns.append("first_value(r.price) OVER w AS reference")
        seconds = int(duration.total_seconds())
        frame = f"RANGE BETWEEN INTERVAL '{seconds} seconds' PRECEDING AND CURRENT ROW"
    columns = []
    for name, expression in expressions.items():
        kind = types.get(name)
        columns.append(
            f"CAST({expression} AS {kind}) AS {name}" if kind else f"{expression} AS {name}"
        )
    a_sql, a_params = alert_values(alert)
    # The alert's values are the statement's first parameters: `a` comes
    # first, positional placeholders turned into named ones.
    named = {f"a{index}": value for index, value in enumerate(a_params)}
    a_sql = _number_placeholders(a_sql)
    sql = _SEGMENTS_SQL.format(
        a=a_sql,
        raw=_RAW,
        window_columns=", ".join(window_columns) or "NULL AS unused",
        frame=frame,
        columns=", ".join(columns),
        match=_predicate(match),
        rearm=_predicate(rearm),
    )
    params = {
        **named,
        **bounds,
        "coin": alert.coin_id,
        "window": window,
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
    end: datetime  # the time of its last row


def runs_of(rows: Sequence[tuple]) -> list[Run]:
    """Runs from _SEGMENTS_SQL's rows: each run's first row, and the very last row."""
    runs: list[Run] = []
    pending: tuple | None = None
    for time, price, m, r, before_time, last, starts in rows:
        if starts:
            if pending is not None:
                runs.append(Run(*pending, end=before_time))
            pending = (time, price, m, r)
        if last and pending is not None:
            runs.append(Run(*pending, end=time))
            pending = None
    return runs


Lookup = Callable[[datetime, datetime], Firing | None]


def walk(alert: Alert, runs: Sequence[Run], row_at_or_after: Lookup) -> list[Firing]:
    """The firings, oldest first: the claim's state applied run by run.

    As alerts.claiming: each row first re-arms a disarmed alert its
    re-arm rule holds for (REARM_SQL), then fires an armed alert its match
    rule holds for unless in cooldown or expired (FIRE_SQL); once ends the
    alert, every_time starts a cooldown, and a level (Alert.is_level) also
    disarms. Inside a run every row is alike, so only its first row and,
    when a cooldown ends inside it, the first row at or after that end can
    fire; `row_at_or_after(time, end)` finds that row (None: none by `end`).
    """
    once = alert.frequency == Frequency.ONCE
    disarms = alert.frequency == Frequency.EVERY_TIME and alert.is_level
    cooldown = timedelta(seconds=alert.cooldown_seconds or 0)
    armed, cooldown_until, fired = True, None, []
    for run in runs:
        if run.r:
            armed = True
        if not run.m:
            continue
        row: Firing | None = Firing(run.start, run.price)
        while row is not None and armed:
            if cooldown_until is not None and row.time < cooldown_until:
                row = row_at_or_after(cooldown_until, run.end)
                continue
            if alert.expires_at is not None and row.time >= alert.expires_at:
                return fired
            fired.append(row)
            if once:
                return fired
            # A cooldown of 0 (never saved: every_time needs 60 s) is the next row.
            cooldown_until = row.time + max(cooldown, timedelta(microseconds=1))
            # A row that re-arms too (run.r) re-arms before its next match.
            armed = run.r or not disarms
    return fired


class RowsAfter:
    """The history's rows inside a run, fetched a few cooldowns ahead at a time.

    The walk asks for the first row at or after a cooldown's end; the later
    firings of a long run are then found among the rows already fetched.
    """

    def __init__(self, alert: Alert, bounds: dict) -> None:
        self.params = {"coin": alert.coin_id, "minute": str(Resolution.MINUTE), **bounds}
        cooldown = timedelta(seconds=alert.cooldown_seconds or 0)
        self.span = max(cooldown, timedelta(minutes=1)) * COOLDOWNS_PER_FETCH
        self.low: datetime | None = None
        self.high: datetime | None = None
        self.times: list[datetime] = []
        self.prices: list[Decimal] = []
        self.fetches = 0

    def __call__(self, time: datetime, end: datetime) -> Firing | None:
        while time <= end:
            if self.low is not None and self.low <= time <= self.high:
                index = bisect.bisect_left(self.times, time)
                if index < len(self.times):
                    found = self.times[index]
                    return Firing(found, self.prices[index]) if found <= end else None
                time = self.high + timedelta(microseconds=1)
                continue
            self._fetch(time, min(end, time + self.span))
        return None

    def _fetch(self, low: datetime, high: datetime) -> None:
        self.fetches += 1
        params = {**self.params, "scan_from": low, "to": high}
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT time, price FROM ({_RAW}) raw ORDER BY time", params)  # noqa: S608
            rows = cursor.fetchall()
        self.low, self.high = low, high
        self.times = [row[0] for row in rows]
        self.prices = [row[1] for row in rows]


_BOUNDS_SQL = """
SELECT
    (SELECT min(time) FROM prices_pricetick
        WHERE coin_id = %(coin)s AND time >= %(scan_from)s AND time <= %(to)s),
    (SELECT min(close_time) FROM prices_pricerollup
        WHERE coin_id = %(coin)s AND resolution = %(minute)s AND bucket >= %(scan_from)s
            AND close_time <= %(to)s)
"""


def history_bounds(alert: Alert, to: datetime) -> dict:
    """The replayed range: from the start of PREVIEW_DAYS (or the first row) to `to`."""
    start = to - timedelta(days=PREVIEW_DAYS)
    window = WINDOW_DURATIONS.get(alert.window or "", timedelta(0))
    scan_from = start - max(window, LEAD_IN)
    params = {"coin": alert.coin_id, "scan_from": scan_from, "to": to}
    with connection.cursor() as cursor:
        cursor.execute(_BOUNDS_SQL, {**params, "minute": str(Resolution.MINUTE)})
        first_tick, first_minute = cursor.fetchone()
    firsts = [time for time in (first_tick, first_minute) if time is not None]
    first = min(firsts) if firsts else None
    # With no tick at all, every row is a minute close.
    ticks_from = first_tick or (to + timedelta(microseconds=1))
    return {
        **params,
        "from": max(start, first) if first else to,
        "ticks_from": ticks_from,
        "has_history": first is not None,
    }


def preview(alert: Alert, to: datetime | None = None) -> Preview:
    """Replay the last PREVIEW_DAYS up to `to` (now) for the unsaved `alert`."""
    to = to or timezone.now()
    start = _start_state(alert)
    bounds = history_bounds(start, to)
    ticks_from = bounds["ticks_from"] if bounds["ticks_from"] <= to else None
    result = Preview(
        from_at=bounds["from"] if bounds.pop("has_history") else None,
        to_at=to,
        resolution=_resolution(bounds["from"], ticks_from),
        ticks_from=ticks_from,
    )
    if result.from_at is None:
        return result
    match = rules_for(start.condition, MATCH_RULES)
    rearm = rules_for(start.condition, REARM_RULES)
    sql, params = segments_statement(start, bounds, match, rearm)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result.firings = walk(start, runs_of(rows), RowsAfter(start, bounds))
    result.chart = chart_points(alert.coin, result)
    return result


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


def chart_points(coin: Coin, result: Preview) -> list[tuple[datetime, Decimal]]:
    """The coin's closes over the replayed range, at most MAX_CHART_POINTS."""
    range_key = next((key for span, key in _CHART_RANGES if result.covered <= span), "30d")
    points = [
        point
        for point in price_history(coin, range_key, now=result.to_at)
        if point[0] >= result.from_at
    ]
    step = -(-len(points) // MAX_CHART_POINTS) if points else 1
    thinned = points[::step]
    if points and thinned[-1] is not points[-1]:
        thinned.append(points[-1])
    return thinned
