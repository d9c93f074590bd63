"""The CoinGecko client against the fake CoinGecko server, faults and all."""

import itertools
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime

import httpx
import pytest

from prices.coingecko import ChartPoint, CoinGeckoClient, RateLimited
from prices.quotes import FeedError, MarketQuote
from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins

TEN = [coin.id for coin in generate_coins(10)]  # the product's ten default coins


@pytest.fixture
def sleeps():
    """The client's sleeps, recorded instead of slept."""
    return []


@pytest.fixture
def client(fake_coingecko, sleeps):
    with CoinGeckoClient(
        fake_coingecko.url, plan="public", api_key="", timeout=0.2, max_retries=2,
        sleep=sleeps.append,
    ) as client:  # fmt: skip
        yield client


def market_requests(fake):
    return [r for r in fake.requests if r.path == "/coins/markets"]


# --- requests ---------------------------------------------------------------------


def test_it_sends_no_key_on_the_public_plan(client, fake_coingecko):
    client.fetch_markets(TEN, "usd")

    headers = fake_coingecko.requests[0].headers
    assert "x-cg-demo-api-key" not in headers and "x-cg-pro-api-key" not in headers


@pytest.mark.parametrize(
    ("plan", "header", "other"),
    [("demo", "x-cg-demo-api-key", "x-cg-pro-api-key"),
     ("pro", "x-cg-pro-api-key", "x-cg-demo-api-key")],
)  # fmt: skip
def test_it_sends_the_key_in_the_plans_header(fake_coingecko, plan, header, other):
    fake_coingecko.api_key, fake_coingecko.plan = "sekrit", plan
    with CoinGeckoClient(fake_coingecko.url, plan=plan, api_key="sekrit") as client:
        result = client.fetch_markets(TEN, "usd")

    assert len(result.quotes) == 10
    assert fake_coingecko.requests[0].headers[header] == "sekrit"
    assert other not in fake_coingecko.requests[0].headers


def test_it_takes_its_configuration_from_settings(fake_coingecko, settings):
    fake_coingecko.api_key, fake_coingecko.plan = "from-env", "demo"
    settings.COINGECKO_API_PLAN, settings.COINGECKO_API_KEY = "demo", "from-env"
    settings.COINGECKO_MAX_RETRIES = 4

    with CoinGeckoClient.from_settings() as client:
        assert client.base_url == fake_coingecko.url and client.max_retries == 4
        assert client.ping() is True
    assert fake_coingecko.requests[0].headers["x-cg-demo-api-key"] == "from-env"


def test_it_fetches_ten_coins_in_one_request(client, fake_coingecko):
    result = client.fetch_markets(TEN, "usd")

    (request,) = fake_coingecko.requests
    assert request.path == "/coins/markets"
    assert request.query["ids"].split(",") == TEN
    assert request.query["vs_currency"] == "usd" and request.query["per_page"] == "250"
    assert sorted(q.coingecko_id for q in result.quotes) == sorted(TEN)
    assert result.rejections == []


def test_it_fetches_300_coins_in_two_requests():
    ids = [c.id for c in generate_coins(300)]
    with FakeCoinGecko(generate_coins(300)) as fake, CoinGeckoClient(fake.url) as client:
        result = client.fetch_markets(ids, "usd")

    assert [len(r.query["ids"].split(",")) for r in fake.requests] == [250, 50]
    assert {q.coingecko_id for q in result.quotes} == set(ids)


def test_it_asks_for_each_id_once(client, fake_coingecko):
    client.fetch_markets(["bitcoin", "bitcoin", "ethereum"], "usd")

    assert fake_coingecko.requests[0].query["ids"] == "bitcoin,ethereum"


def test_it_makes_no_request_for_no_ids(client, fake_coingecko):
    assert client.fetch_markets([], "usd").quotes == []
    assert fake_coingecko.requests == []


def test_it_returns_every_field_of_a_quote(client, fake_coingecko):
    fake_coingecko.set_price("bitcoin", "27000.5")

    (quote,) = client.fetch_markets(["bitcoin"], "usd").quotes

    coin = fake_coingecko.coins["bitcoin"]
    assert quote == MarketQuote(
        coingecko_id="bitcoin",
        symbol="btc",
        name="Bitcoin",
        price=Decimal("27000.5"),
        last_updated=coin.last_updated,
        image_url=coin.image,
        market_cap_rank=1,
        market_cap=coin.market_cap,
        volume_24h=coin.total_volume,
        change_24h_pct=coin.price_change_percentage_24h,
    )


def test_it_keeps_sub_cent_prices_exact(client, fake_coingecko):
    fake_coingecko.set_price("cardano", "0.000012345678")

    (quote,) = client.fetch_markets(["cardano"], "usd").quotes

    assert quote.price == Decimal("0.000012345678")


def test_it_leaves_unknown_ids_out_without_failing(client):
    result = client.fetch_markets(["bitcoin", "no-such-coin"], "usd")

    assert [q.coingecko_id for q in result.quotes] == ["bitcoin"]
    assert result.rejections == []


def test_it_asks_for_the_vs_currency(client):
    (quote,) = client.fetch_markets(["bitcoin"], "EUR").quotes

    assert quote.price == Decimal("23147.31") * Decimal("0.92")


def test_it_reuses_one_connection(client, fake_coingecko):
    for _ in range(3):
        client.fetch_markets(["bitcoin"], "usd")

    assert len(fake_coingecko.connections()) == 1


# --- transient faults -------------------------------------------------------------

TRANSIENT = {
    "429": {},
    "500": {},
    "503": {},
    "slow": {"delay": 1},
    "truncated": {},
    "disconnect": {},
    "malformed": {},
    "wrong_shape": {},
}


@pytest.mark.parametrize("fault", TRANSIENT)
def test_it_retries_a_transient_fault_then_succeeds(client, fake_coingecko, sleeps, fault, caplog):
    fake_coingecko.inject(fault, **TRANSIENT[fault])

    with caplog.at_level(logging.WARNING, logger="prices.coingecko"):
        result = client.fetch_markets(TEN, "usd")

    assert len(result.quotes) == 10
    assert len(market_requests(fake_coingecko)) == 2
    assert len(sleeps) == 1 and 0 <= sleeps[0] <= 1
    assert "retry 1 of 2" in caplog.text


@pytest.mark.parametrize("fault", TRANSIENT)
def test_a_persistent_fault_ends_in_a_feed_error(client, fake_coingecko, sleeps, fault):
    fake_coingecko.inject(fault, times=None, **TRANSIENT[fault])

    with pytest.raises(FeedError, match="3 attempts") as failure:
        client.fetch_markets(TEN, "usd")

    assert failure.value.retry_after is None
    assert len(market_requests(fake_coingecko)) == 3 and len(sleeps) == 2


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("429", "rate limited (HTTP 429)"),
        ("500", "HTTP 500"),
        ("slow", "timed out (ReadTimeout)"),
        ("truncated", "malformed or truncated JSON"),
        ("disconnect", "connection failed (RemoteProtocolError"),
        ("wrong_shape", "expected a JSON list"),
    ],
)
def test_it_logs_each_retry_with_its_reason(client, fake_coingecko, caplog, fault, reason):
    fake_coingecko.inject(fault, **TRANSIENT[fault])

    with caplog.at_level(logging.WARNING, logger="prices.coingecko"):
        client.fetch_markets(TEN, "usd")

    assert reason in caplog.text


def test_it_backs_off_exponentially_with_full_jitter_up_to_the_cap(fake_coingecko, sleeps):
    fake_coingecko.inject("500", times=None)
    with CoinGeckoClient(
        fake_coingecko.url, max_retries=6, backoff_cap=5, sleep=sleeps.append
    ) as c:
        with pytest.raises(FeedError):
            c.fetch_markets(TEN, "usd")

    ceilings = [1, 2, 4, 5, 5, 5]
    assert len(sleeps) == 6
    assert all(0 <= s <= ceiling for s, ceiling in zip(sleeps, ceilings, strict=True))


def test_it_waits_as_long_as_a_short_retry_after_says(client, fake_coingecko, sleeps):
    fake_coingecko.inject("429", retry_after=3)

    assert len(client.fetch_markets(TEN, "usd").quotes) == 10
    assert sleeps == [3.0]


def test_it_gives_up_at_once_when_retry_after_is_long(client, fake_coingecko, sleeps):
    fake_coingecko.inject("429", retry_after=120)

    with pytest.raises(FeedError, match="HTTP 429") as failure:
        client.fetch_markets(TEN, "usd")

    assert failure.value.retry_after == timedelta(seconds=120)
    assert len(fake_coingecko.requests) == 1 and sleeps == []


def test_it_reads_retry_after_as_an_http_date(client, fake_coingecko):
    later = datetime.now(UTC) + timedelta(seconds=90)
    fake_coingecko.inject("429", retry_after=format_datetime(later, usegmt=True))

    with pytest.raises(FeedError) as failure:
        client.fetch_markets(TEN, "usd")

    assert timedelta(seconds=80) < failure.value.retry_after <= timedelta(seconds=90)


def test_a_503_with_a_long_retry_after_is_passed_on(client, fake_coingecko):
    fake_coingecko.inject("503", retry_after=600)

    with pytest.raises(FeedError) as failure:
        client.fetch_markets(TEN, "usd")

    assert failure.value.retry_after == timedelta(seconds=600)


def test_persistent_short_rate_limits_pass_on_the_servers_wait(client, fake_coingecko, sleeps):
    fake_coingecko.inject("429", times=None, retry_after=2)

    with pytest.raises(FeedError) as failure:
        client.fetch_markets(TEN, "usd")

    assert failure.value.retry_after == timedelta(seconds=2) and sleeps == [2.0, 2.0]


def test_a_client_error_is_not_retried(client, fake_coingecko, sleeps):
    with pytest.raises(FeedError, match="HTTP 400"):
        client.fetch_markets(TEN, "xyz")

    assert len(fake_coingecko.requests) == 1 and sleeps == []


def test_a_rejected_key_says_which_settings_to_check(client, fake_coingecko):
    fake_coingecko.api_key = "needed"

    with pytest.raises(FeedError, match="COINGECKO_API_KEY"):
        client.fetch_markets(TEN, "usd")


def test_an_unreachable_server_is_a_feed_error(sleeps):
    with FakeCoinGecko(generate_coins(1)) as fake:
        url = fake.url
    with CoinGeckoClient(url, timeout=0.2, max_retries=1, sleep=sleeps.append) as client:
        with pytest.raises(FeedError, match="connection failed"):
            client.fetch_markets(TEN, "usd")


def test_no_other_exception_escapes(sleeps):
    def explode(request):
        raise RuntimeError("bug in a transport")

    transport = httpx.MockTransport(explode)
    with CoinGeckoClient("http://127.0.0.1:9", transport=transport, sleep=sleeps.append) as c:
        with pytest.raises(FeedError, match="unexpected RuntimeError"):
            c.fetch_markets(TEN, "usd")


# --- bad values of single coins ----------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "field", "reason"),
    [
        ("null", "current_price", "current_price is null"),
        ("negative", "current_price", "current_price must be positive"),
        ("zero", "current_price", "current_price must be positive"),
        ("non_numeric", "current_price", "current_price is not a number"),
        ("missing", "current_price", "current_price is missing"),
        ("absurd", "current_price", "more than 12 integer digits"),
        ("nan", "current_price", "current_price is not finite"),
        ("negative", "market_cap", "market_cap must be between 0"),
        ("absurd", "total_volume", "total_volume must be between 0"),
        ("non_numeric", "price_change_percentage_24h", "price_change_percentage_24h is not"),
        ("missing", "last_updated", "last_updated is missing"),
        ("absurd", "last_updated", "more than 5 minutes in the future"),
        ("null", "symbol", "symbol is null"),
    ],
)
def test_a_bad_coin_is_rejected_and_the_good_ones_kept(
    client, fake_coingecko, fault, field, reason
):
    fake_coingecko.inject(fault, coin="solana", field=field)

    result = client.fetch_markets(TEN, "usd")

    assert sorted(q.coingecko_id for q in result.quotes) == sorted(set(TEN) - {"solana"})
    (rejection,) = result.rejections
    assert rejection.coingecko_id == "solana" and reason in rejection.reason


def test_a_bad_coin_is_fetched_fine_next_time(client, fake_coingecko):
    fake_coingecko.inject("null_price", coin="solana")
    client.fetch_markets(TEN, "usd")

    assert len(client.fetch_markets(TEN, "usd").quotes) == 10


# --- catalogue, charts, ping -------------------------------------------------------


def test_it_lists_the_catalogue(client):
    coins = client.list_coins()

    assert len(coins) == 250
    assert coins[0] == {"id": "bitcoin", "symbol": "btc", "name": "Bitcoin"}


def test_it_leaves_bad_catalogue_entries_out(client, fake_coingecko):
    fake_coingecko.inject("null", coin="cosmos", field="symbol")

    coins = client.list_coins()

    assert len(coins) == 249 and "cosmos" not in {c["id"] for c in coins}


def test_it_reads_a_one_day_chart_in_five_minute_points(client, fake_coingecko):
    fake_coingecko.set_price("bitcoin", "30000")

    points = client.market_chart("bitcoin", "usd", 1)

    assert len(points) == 289
    assert points[1].time - points[0].time == timedelta(minutes=5)
    assert points[-1].price == Decimal("30000")
    assert isinstance(points[-1], ChartPoint) and isinstance(points[-1].market_cap, Decimal)
    assert fake_coingecko.requests[0].query == {"vs_currency": "usd", "days": "1"}


def test_it_reads_a_long_chart_in_daily_points(client):
    points = client.market_chart("ethereum", "usd", 365)

    assert all(b.time - a.time <= timedelta(days=1) for a, b in itertools.pairwise(points))
    assert points[1].time - points[0].time == timedelta(days=1)


def test_it_drops_a_bad_chart_point(client, fake_coingecko, caplog):
    fake_coingecko.inject("negative", coin="bitcoin")

    with caplog.at_level(logging.WARNING, logger="prices.coingecko"):
        points = client.market_chart("bitcoin", "usd", 1)

    assert len(points) == 288 and all(p.price > 0 for p in points)
    assert "price must be positive" in caplog.text


def test_an_unknown_coins_chart_is_a_feed_error(client, fake_coingecko):
    with pytest.raises(FeedError, match="HTTP 404"):
        client.market_chart("no-such-coin", "usd", 1)

    assert len(fake_coingecko.requests) == 1


def test_a_chart_survives_a_transient_fault(client, fake_coingecko):
    fake_coingecko.inject("truncated")

    assert len(client.market_chart("bitcoin", "usd", 30)) > 700


def test_ping_is_true_when_coingecko_answers(client):
    assert client.ping() is True


def test_ping_is_false_without_retrying_when_it_fails(client, fake_coingecko, sleeps):
    fake_coingecko.inject("500", times=None)

    assert client.ping() is False
    assert len(fake_coingecko.requests) == 1 and sleeps == []


def test_ping_is_false_when_the_client_is_closed(client):
    client.close()

    assert client.ping() is False


def test_a_closed_client_raises_only_feed_errors(client):
    client.close()

    with pytest.raises(FeedError, match="unexpected RuntimeError"):
        client.fetch_markets(TEN, "usd")


# --- /exchange_rates ---------------------------------------------------------------


def test_it_reads_the_units_of_every_currency_per_bitcoin(client, fake_coingecko):
    rates = client.exchange_rates()

    assert rates["btc"] == 1
    assert rates["usd"] == Decimal("23147.31")
    assert rates["eur"] == Decimal("23147.31") * Decimal("0.92")
    assert set(rates) >= {"usd", "eur", "gbp", "jpy", "btc", "eth"}
    assert fake_coingecko.paths() == ["/exchange_rates"]


def test_it_reads_the_rates_exactly_as_sent(client, fake_coingecko):
    fake_coingecko.set_exchange_rate("eur", "61234.5678901234")

    assert client.exchange_rates()["eur"] == Decimal("61234.5678901234")


def test_it_leaves_out_a_rate_that_is_not_positive_and_keeps_the_others(
    client, fake_coingecko, caplog
):
    fake_coingecko.set_exchange_rate("gbp", -5)
    fake_coingecko.set_exchange_rate("jpy", 0)

    rates = client.exchange_rates()

    assert "gbp" not in rates and "jpy" not in rates and rates["usd"] == Decimal("23147.31")
    assert "gbp: value must be above 0" in caplog.text


def test_it_retries_a_rate_limit_and_reads_the_next_answer(client, fake_coingecko, sleeps):
    fake_coingecko.inject("rate_limit", path="/exchange_rates", retry_after=1)

    assert client.exchange_rates()["btc"] == 1
    assert sleeps == [1.0]


def test_a_long_retry_after_fails_at_once_saying_how_long_to_wait(client, fake_coingecko):
    fake_coingecko.inject("rate_limit", path="/exchange_rates", retry_after=120)

    with pytest.raises(RateLimited) as raised:
        client.exchange_rates()

    assert raised.value.retry_after == timedelta(seconds=120)
    assert fake_coingecko.paths() == ["/exchange_rates"]


def test_server_errors_past_the_retries_are_a_feed_error(client, fake_coingecko):
    fake_coingecko.inject("500", times=3, path="/exchange_rates")

    with pytest.raises(FeedError, match=r"/exchange_rates: HTTP 500 \(3 attempts\)"):
        client.exchange_rates()


def test_an_answer_that_is_not_an_object_of_rates_is_a_feed_error(client, fake_coingecko):
    fake_coingecko.inject("wrong_shape", times=None, path="/exchange_rates")

    with pytest.raises(FeedError, match="expected a JSON dict"):
        client.exchange_rates()


def test_an_answer_without_one_usable_rate_is_a_feed_error(client, fake_coingecko):
    for code in fake_coingecko.exchange_rates():
        fake_coingecko.set_exchange_rate(code, None)

    with pytest.raises(FeedError, match="no usable rate"):
        client.exchange_rates()
