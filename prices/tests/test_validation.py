"""Every field of a CoinGecko row is checked before it can become a price."""

import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from prices.quotes import MarketQuote, Rejection
from prices.validation import (
    ChartPoint,
    InvalidField,
    validate_chart,
    validate_market_row,
)

NOW = datetime(2023, 3, 1, 12, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)


def row(**changes):
    """A good /coins/markets row as parsed with parse_float=Decimal, then changed."""
    good = {
        "id": "bitcoin",
        "symbol": "btc",
        "name": "Bitcoin",
        "image": "https://coin-images.coingecko.com/coins/images/1/large/bitcoin.png",
        "current_price": Decimal("23147.31"),
        "market_cap": 446743083000,
        "market_cap_rank": 1,
        "total_volume": Decimal("13938384190.5"),
        "price_change_percentage_24h": Decimal("-1.23456"),
        "last_updated": "2023-03-01T11:59:30.123Z",
    }
    for name, value in changes.items():
        if value is ...:
            del good[name]
        else:
            good[name] = value
    return good


def reason_for(**changes):
    outcome = validate_market_row(row(**changes), now=NOW)
    assert isinstance(outcome, Rejection), outcome
    assert outcome.coingecko_id == "bitcoin" or "id" in changes
    return outcome.reason


def test_it_accepts_a_good_row_with_exact_decimals():
    quote = validate_market_row(row(), now=NOW)

    assert quote == MarketQuote(
        coingecko_id="bitcoin",
        symbol="btc",
        name="Bitcoin",
        price=Decimal("23147.31"),
        last_updated=datetime(2023, 3, 1, 11, 59, 30, 123000, tzinfo=UTC),
        image_url="https://coin-images.coingecko.com/coins/images/1/large/bitcoin.png",
        market_cap_rank=1,
        market_cap=Decimal("446743083000"),
        volume_24h=Decimal("13938384190.5"),
        change_24h_pct=Decimal("-1.23456"),
    )


def test_it_accepts_nulls_in_optional_fields():
    quote = validate_market_row(
        row(
            market_cap=None,
            total_volume=None,
            price_change_percentage_24h=None,
            market_cap_rank=None,
            image=None,
        ),
        now=NOW,
    )

    assert isinstance(quote, MarketQuote)
    assert (quote.market_cap, quote.volume_24h, quote.change_24h_pct) == (None, None, None)


def test_it_accepts_a_sub_cent_price():
    assert validate_market_row(row(current_price=Decimal("1.2E-10")), now=NOW).price == Decimal(
        "1.2E-10"
    )


def test_it_reads_floats_by_their_shortest_repr_never_their_binary_value():
    assert validate_market_row(row(current_price=0.1), now=NOW).price == Decimal("0.1")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (..., "current_price is missing"),
        (None, "current_price is null"),
        (Decimal("-5"), "current_price must be positive"),
        (0, "current_price must be positive"),
        ("23147.31", "current_price is not a number"),
        (True, "current_price is not a number"),
        ([1], "current_price is not a number"),
        (Decimal("NaN"), "current_price is not finite"),
        (Decimal("Infinity"), "current_price is not finite"),
        (float("nan"), "current_price is not finite"),
        (Decimal("1E+12"), "more than 12 integer digits"),
        (Decimal("1E+20"), "more than 12 integer digits"),
        (Decimal("1E-15"), "below 1E-14"),
    ],
    ids=[
        "missing",
        "null",
        "negative",
        "zero",
        "string",
        "bool",
        "list",
        "nan",
        "infinite",
        "float-nan",
        "12-digits",
        "absurd",
        "too-small",
    ],
)
def test_it_rejects_bad_prices(value, reason):
    assert reason in reason_for(current_price=value)


@pytest.mark.parametrize("field", ["market_cap", "total_volume"])
@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("-1"), "must be between 0 and"),
        (Decimal("1E+20"), "must be between 0 and"),
        ("lots", "is not a number"),
        (Decimal("NaN"), "is not finite"),
    ],
    ids=["negative", "absurd", "string", "nan"],
)
def test_it_rejects_bad_market_caps_and_volumes(field, value, reason):
    assert reason_for(**{field: value}).startswith(f"{field} ")
    assert reason in reason_for(**{field: value})


def test_it_accepts_a_zero_volume():
    assert validate_market_row(row(total_volume=0), now=NOW).volume_24h == 0


@pytest.mark.parametrize("value", [Decimal("-100"), Decimal("-250"), Decimal("1E+6"), "12%"])
def test_it_rejects_impossible_24h_changes(value):
    assert reason_for(price_change_percentage_24h=value).startswith("price_change_percentage_24h")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (..., "last_updated is missing"),
        (None, "last_updated is null"),
        ("yesterday", "not an ISO-8601 time"),
        (1677672000, "not an ISO-8601 string"),
        ("2023-03-01T12:05:01Z", "more than 5 minutes in the future"),
        ("2099-01-01T00:00:00.000Z", "more than 5 minutes in the future"),
        ("2001-01-01T00:00:00Z", "before any coin traded"),
    ],
    ids=["missing", "null", "words", "number", "6-min-ahead", "2099", "2001"],
)
def test_it_rejects_bad_last_updated(value, reason):
    assert reason in reason_for(last_updated=value)


def test_it_tolerates_a_little_clock_skew():
    quote = validate_market_row(row(last_updated="2023-03-01T12:04:00Z"), now=NOW)

    assert isinstance(quote, MarketQuote)


def test_it_reads_a_time_without_offset_as_utc():
    quote = validate_market_row(row(last_updated="2023-03-01T11:00:00"), now=NOW)

    assert quote.last_updated == datetime(2023, 3, 1, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", ""),
        ("id", None),
        ("symbol", 42),
        ("symbol", "x" * 51),
        ("name", ...),
        ("name", "   "),
    ],
)
def test_it_rejects_bad_names(field, value):
    assert reason_for(**{field: value}).startswith(f"{field} ")


@pytest.mark.parametrize("value", [0, -3, "1", 1.5, True])
def test_it_rejects_a_bad_rank(value):
    assert reason_for(market_cap_rank=value).startswith("market_cap_rank is not a positive")


@pytest.mark.parametrize("value", ["javascript:alert(1)", 7, "https://x/" + "a" * 600])
def test_a_bad_image_is_dropped_without_losing_the_price(value):
    quote = validate_market_row(row(image=value), now=NOW)

    assert quote.image_url == "" and quote.price == Decimal("23147.31")


def test_it_rejects_a_row_that_is_not_an_object():
    outcome = validate_market_row(["bitcoin", 1], now=NOW)

    assert outcome == Rejection("?", "row is not a JSON object: ['bitcoin', 1]")


def test_it_logs_each_rejection_with_its_reason(caplog):
    with caplog.at_level(logging.WARNING, logger="prices.validation"):
        validate_market_row(row(current_price=Decimal("-5")), now=NOW)

    assert caplog.records[0].name == "prices.validation"
    assert "bitcoin" in caplog.text and "current_price must be positive" in caplog.text


def chart(prices, caps=None, volumes=None):
    return {"prices": prices, "market_caps": caps or [], "total_volumes": volumes or []}


def test_a_chart_pairs_prices_with_caps_and_volumes_of_the_same_time():
    points, problems = validate_chart(
        chart([[NOW_MS, Decimal("100.5")]], [[NOW_MS, 1000]], [[NOW_MS, Decimal("20.25")]]),
        now=NOW,
    )

    assert points == [ChartPoint(NOW, Decimal("100.5"), Decimal("1000"), Decimal("20.25"))]
    assert problems == []


def test_a_chart_comes_back_ascending_without_duplicate_times():
    body = chart([[NOW_MS, 3], [NOW_MS - 60_000, 1], [NOW_MS, 4]])

    points, _ = validate_chart(body, now=NOW)

    assert [p.price for p in points] == [1, 3]


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ([NOW_MS, None], "price is null"),
        ([NOW_MS, Decimal("-2")], "price must be positive"),
        ([NOW_MS, "x"], "price is not a number"),
        ([NOW_MS], "not a [time, price] pair"),
        (["soon", 5], "time is not a number"),
        ([NOW_MS + 3_600_000, 5], "more than 5 minutes in the future"),
    ],
)
def test_a_chart_drops_bad_points_and_says_why(pair, problem):
    points, problems = validate_chart(chart([[NOW_MS - 60_000, 7], pair]), now=NOW)

    assert [p.price for p in points] == [7]
    assert problem in problems[0]


def test_a_chart_drops_a_point_whose_market_cap_is_negative():
    points, problems = validate_chart(chart([[NOW_MS, 7]], [[NOW_MS, -1]]), now=NOW)

    assert points == [] and "market_cap must be between" in problems[0]


def test_a_chart_without_prices_is_invalid():
    with pytest.raises(InvalidField, match="no 'prices' list"):
        validate_chart({"error": "coin not found"}, now=NOW)


def test_it_keeps_the_reason_for_a_future_time_readable():
    reason = reason_for(last_updated=(NOW + timedelta(hours=1)).isoformat())

    assert reason == "last_updated 2023-03-01T13:00:00+00:00 is more than 5 minutes in the future"
