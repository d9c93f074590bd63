"""Check every field CoinGecko sends before anything is stored.

A row either becomes a MarketQuote or a Rejection with a reason a person can
act on; each rejection is logged on "prices.validation". Numbers must arrive
as Decimals (parse JSON with `parse_float=Decimal, parse_constant=Decimal`)
so a price is never rounded through a float.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from prices.quotes import MarketQuote, Rejection

log = logging.getLogger("prices.validation")

# Limits follow the columns in prices.models: 12 integer digits for prices,
# 14 decimal places (a smaller price would be stored as zero).
MAX_PRICE = Decimal("1e12")
MIN_PRICE = Decimal("1e-14")
# A market cap beyond 1e18 is absurd even in the weakest vs_currency
# (bitcoin's cap in Vietnamese dong is about 4e16).
MAX_AMOUNT = Decimal("1e18")
MIN_CHANGE_PCT = Decimal("-100")
MAX_CHANGE_PCT = Decimal("1e6")
# CoinGecko's clock and ours may disagree a little, not by minutes.
MAX_CLOCK_SKEW = timedelta(minutes=5)
# Nothing traded before bitcoin's genesis block.
EARLIEST = datetime(2009, 1, 3, tzinfo=UTC)
MAX_URL_LENGTH = 500
# /exchange_rates' currency codes: "usd", "eth", "sats", "xau"...
CURRENCY_CODE = re.compile(r"[a-z]{2,10}")
TEXT_LIMITS = {"id": 100, "symbol": 50, "name": 200}


class InvalidField(ValueError):
    """A field failed validation; the message says which and why."""


@dataclass(frozen=True)
class ChartPoint:
    """One validated point of a CoinGecko market chart."""

    time: datetime  # aware, UTC
    price: Decimal
    market_cap: Decimal | None = None
    volume: Decimal | None = None


def validate_market_row(row: Any, *, now: datetime | None = None) -> MarketQuote | Rejection:
    """Turn one `/coins/markets` row into a MarketQuote, or say why not."""
    coin_id = row.get("id") if isinstance(row, dict) else None
    label = coin_id if isinstance(coin_id, str) and coin_id else "?"
    try:
        if not isinstance(row, dict):
            raise InvalidField(f"row is not a JSON object: {shorten(row)}")
        quote = MarketQuote(
            coingecko_id=text(row, "id"),
            symbol=text(row, "symbol"),
            name=text(row, "name"),
            price=price(row, "current_price"),
            last_updated=timestamp(row, "last_updated", now=now),
            image_url=image_url(row, label),
            market_cap_rank=rank(row, "market_cap_rank"),
            market_cap=amount(row, "market_cap"),
            volume_24h=amount(row, "total_volume"),
            change_24h_pct=change_pct(row, "price_change_percentage_24h"),
        )
    except InvalidField as exc:
        return reject(label, str(exc))
    return quote


def validate_chart(body: Any, *, now: datetime | None = None) -> tuple[list[ChartPoint], list[str]]:
    """Points of a `/coins/{id}/market_chart` body, ascending, and why others were dropped.

    Raises InvalidField when the body is not a chart at all.
    """
    if not isinstance(body, dict) or not isinstance(body.get("prices"), list):
        raise InvalidField(f"market chart has no 'prices' list: {shorten(body)}")
    caps = _series_by_time(body.get("market_caps"))
    volumes = _series_by_time(body.get("total_volumes"))
    points: dict[datetime, ChartPoint] = {}
    problems: list[str] = []
    for pair in body["prices"]:
        try:
            point = chart_point(pair, caps, volumes, now=now)
        except InvalidField as exc:
            problems.append(str(exc))
            continue
        points.setdefault(point.time, point)
    return [points[t] for t in sorted(points)], problems


def chart_point(
    pair: Any, caps: dict[Any, Any], volumes: dict[Any, Any], *, now: datetime | None = None
) -> ChartPoint:
    """One [ms, price] pair with the market cap and volume of the same instant."""
    if not isinstance(pair, list) or len(pair) != 2:
        raise InvalidField(f"chart point is not a [time, price] pair: {shorten(pair)}")
    ms, value = pair
    fields = {"time": ms, "price": value, "market_cap": caps.get(ms), "volume": volumes.get(ms)}
    return ChartPoint(
        time=epoch_ms(fields, "time", now=now),
        price=price(fields, "price"),
        market_cap=amount(fields, "market_cap"),
        volume=amount(fields, "volume"),
    )


def validate_exchange_rates(body: Any) -> tuple[dict[str, Decimal], list[str]]:
    """Units of each currency per 1 BTC from an `/exchange_rates` body, by code,
    and why the entries left out were dropped.

    Raises InvalidField when the body holds no `rates` object at all.
    """
    rates = body.get("rates") if isinstance(body, dict) else None
    if not isinstance(rates, dict):
        raise InvalidField(f"exchange rates have no 'rates' object: {shorten(body)}")
    per_btc: dict[str, Decimal] = {}
    problems: list[str] = []
    for code, entry in rates.items():
        try:
            if not isinstance(code, str) or not CURRENCY_CODE.fullmatch(code):
                raise InvalidField(f"not a currency code: {shorten(code)}")
            if not isinstance(entry, dict):
                raise InvalidField(f"{code}: entry is not a JSON object")
            value = number(entry, "value", required=True)
            if not (0 < value < MAX_AMOUNT):
                raise InvalidField(f"{code}: value must be above 0 and below 1e18, got {value}")
        except InvalidField as exc:
            problems.append(str(exc))
            continue
        per_btc[code] = value
    return per_btc, problems


def reject(coin_id: str, reason: str) -> Rejection:
    log.warning("Rejected %s: %s", coin_id, reason)
    return Rejection(coingecko_id=coin_id, reason=reason)


# --- one field each: return the clean value or raise InvalidField --------------------


def text(row: dict[str, Any], name: str) -> str:
    value = required(row, name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(f"{name} is not a non-empty string: {shorten(value)}")
    if len(value) > TEXT_LIMITS[name]:
        raise InvalidField(f"{name} is longer than {TEXT_LIMITS[name]} characters")
    return value


def price(row: dict[str, Any], name: str) -> Decimal:
    value = number(row, name, required=True)
    if value <= 0:
        raise InvalidField(f"{name} must be positive, got {value}")
    if value >= MAX_PRICE:
        raise InvalidField(f"{name} {value} has more than 12 integer digits")
    if value < MIN_PRICE:
        raise InvalidField(f"{name} {value} is below {MIN_PRICE}, the smallest price we store")
    return value


def amount(row: dict[str, Any], name: str) -> Decimal | None:
    value = number(row, name)
    if value is not None and not (0 <= value < MAX_AMOUNT):
        raise InvalidField(f"{name} must be between 0 and {MAX_AMOUNT}, got {value}")
    return value


def change_pct(row: dict[str, Any], name: str) -> Decimal | None:
    value = number(row, name)
    if value is not None and not (MIN_CHANGE_PCT < value < MAX_CHANGE_PCT):
        raise InvalidField(f"{name} must be above -100 and below 1e6, got {value}")
    return value


def rank(row: dict[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidField(f"{name} is not a positive integer: {shorten(value)}")
    return value


def number(row: dict[str, Any], name: str, *, required: bool = False) -> Decimal | None:
    """A finite JSON number as a Decimal; None when optional and null or absent."""
    value = row.get(name)
    if value is None:
        if required:
            raise InvalidField(f"{name} is {'null' if name in row else 'missing'}")
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise InvalidField(f"{name} is not a number: {shorten(value)}")
    try:
        # A float only arrives when the caller parsed JSON without parse_float;
        # its shortest repr is the number CoinGecko wrote.
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise InvalidField(f"{name} is not a number: {shorten(value)}") from None
    if not result.is_finite():
        raise InvalidField(f"{name} is not finite: {value}")
    return result


def timestamp(row: dict[str, Any], name: str, *, now: datetime | None = None) -> datetime:
    """An ISO-8601 time (CoinGecko writes UTC with a Z) within a sane window."""
    value = required(row, name)
    if not isinstance(value, str):
        raise InvalidField(f"{name} is not an ISO-8601 string: {shorten(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(f"{name} is not an ISO-8601 time: {shorten(value)}") from None
    # CoinGecko's times are UTC; a time without an offset means UTC too.
    return plausible(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC), name, now)


def epoch_ms(row: dict[str, Any], name: str, *, now: datetime | None = None) -> datetime:
    value = number(row, name, required=True)
    try:
        parsed = datetime.fromtimestamp(float(value) / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidField(f"{name} is not a time in milliseconds: {value}") from None
    return plausible(parsed, name, now)


def plausible(at: datetime, name: str, now: datetime | None) -> datetime:
    at = at.astimezone(UTC)
    if at > (now or datetime.now(UTC)) + MAX_CLOCK_SKEW:
        raise InvalidField(f"{name} {at.isoformat()} is more than 5 minutes in the future")
    if at < EARLIEST:
        raise InvalidField(f"{name} {at.isoformat()} is before any coin traded")
    return at


def image_url(row: dict[str, Any], coin_id: str) -> str:
    """The logo URL, or "" when it is not a usable http(s) URL.

    A bad logo is not worth losing a good price: it is logged and dropped.
    """
    value = row.get("image")
    if value is None or value == "":
        return ""
    if isinstance(value, str) and value.startswith(("https://", "http://")):
        if len(value) <= MAX_URL_LENGTH:
            return value
    log.warning("Ignored the image of %s: not an http(s) URL of <= 500 chars", coin_id)
    return ""


def required(row: dict[str, Any], name: str) -> Any:
    if name not in row:
        raise InvalidField(f"{name} is missing")
    if row[name] is None:
        raise InvalidField(f"{name} is null")
    return row[name]


def _series_by_time(series: Any) -> dict[Any, Any]:
    """{ms: value} of a [[ms, value], ...] series; malformed entries are left out."""
    if not isinstance(series, list):
        return {}
    return {
        p[0]: p[1]
        for p in series
        if isinstance(p, list) and len(p) == 2 and isinstance(p[0], int | Decimal)
    }


def shorten(value: Any, limit: int = 80) -> str:
    """A value for a log line or error message, cut to `limit` characters."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
