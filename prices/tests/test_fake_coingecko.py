"""The fake CoinGecko server answers like CoinGecko and misbehaves on demand."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from prices.tests.fake_coingecko import FakeCoinGecko, generate_coins


@pytest.fixture
def api(fake_coingecko):
    with httpx.Client(base_url=fake_coingecko.url, timeout=5) as client:
        yield client


def markets(api, **params):
    return api.get("/coins/markets", params={"vs_currency": "usd", **params})


def decimal_json(response):
    return json.loads(response.text, parse_float=Decimal)


def test_it_serves_the_base_url_without_trailing_slash(fake_coingecko):
    assert fake_coingecko.url.startswith("http://127.0.0.1:")
    assert fake_coingecko.url.endswith("/api/v3")


def test_it_pongs(api):
    assert api.get("/ping").json() == {"gecko_says": "(V3) To the Moon!"}


def test_it_works_outside_pytest_as_a_context_manager():
    with FakeCoinGecko(generate_coins(3)) as fake:
        assert httpx.get(f"{fake.url}/coins/list").json()[0]["id"] == "bitcoin"
    with pytest.raises(RuntimeError):
        fake.url  # noqa: B018


def test_markets_rows_have_coingeckos_fields(api):
    row = markets(api, ids="bitcoin").json()[0]

    assert row["id"] == "bitcoin" and row["symbol"] == "btc" and row["name"] == "Bitcoin"
    assert row["image"].startswith("https://")
    assert row["current_price"] == 23147.31
    assert row["market_cap_rank"] == 1
    for name in ("market_cap", "total_volume", "price_change_percentage_24h"):
        assert isinstance(row[name], int | float)
    last_updated = datetime.fromisoformat(row["last_updated"])
    assert row["last_updated"].endswith("Z")
    assert datetime.now(UTC) - timedelta(minutes=2) < last_updated <= datetime.now(UTC)


def test_markets_omits_unknown_ids(api):
    rows = markets(api, ids="bitcoin,no-such-coin,ethereum").json()

    assert sorted(r["id"] for r in rows) == ["bitcoin", "ethereum"]


def test_markets_pages_by_at_most_250(api):
    first = markets(api, per_page=1000, page=1).json()
    second = markets(api, per_page=1000, page=2).json()

    assert len(first) == 250 and second == []


def test_markets_orders_by_market_cap_by_default(api):
    caps = [r["market_cap"] for r in markets(api, per_page=50).json()]

    assert caps == sorted(caps, reverse=True)


def test_markets_converts_to_the_vs_currency(api):
    eur = markets(api, ids="bitcoin", vs_currency="eur").json()[0]["current_price"]

    assert Decimal(str(eur)) == Decimal("23147.31") * Decimal("0.92")


def test_markets_requires_a_known_vs_currency(api):
    assert api.get("/coins/markets").status_code == 400
    assert markets(api, vs_currency="xyz").status_code == 400


def test_simple_price_includes_what_was_asked(api):
    body = api.get(
        "/simple/price",
        params={
            "ids": "bitcoin,nope",
            "vs_currencies": "usd",
            "include_market_cap": "true",
            "include_24hr_vol": "true",
            "include_24hr_change": "true",
            "include_last_updated_at": "true",
        },
    ).json()

    assert set(body) == {"bitcoin"}
    assert set(body["bitcoin"]) == {
        "usd",
        "usd_market_cap",
        "usd_24h_vol",
        "usd_24h_change",
        "last_updated_at",
    }


def test_coins_list_has_every_coin(api):
    coins = api.get("/coins/list").json()

    assert len(coins) == 250
    assert set(coins[0]) == {"id", "symbol", "name"}


def test_generated_coins_reuse_a_symbol_as_coingecko_does():
    symbols = [c.symbol for c in generate_coins(20)]

    assert symbols.count("btc") == 2


@pytest.mark.parametrize(
    ("days", "step"),
    [
        ("1", timedelta(minutes=5)),
        ("2", timedelta(hours=1)),
        ("90", timedelta(hours=1)),
        ("91", timedelta(days=1)),
        ("max", timedelta(days=1)),
    ],
)
def test_market_chart_follows_coingeckos_granularity(api, days, step):
    chart = api.get(
        "/coins/bitcoin/market_chart", params={"vs_currency": "usd", "days": days}
    ).json()

    times = [t for t, _ in chart["prices"]]
    assert times[1] - times[0] == step.total_seconds() * 1000
    assert len(chart["market_caps"]) == len(chart["total_volumes"]) == len(times)
    if days != "max":
        assert times[-1] - times[0] <= timedelta(days=int(days)).total_seconds() * 1000


def test_market_chart_ends_at_the_current_price(api, fake_coingecko):
    fake_coingecko.set_price("bitcoin", "30000")
    chart = api.get("/coins/bitcoin/market_chart", params={"vs_currency": "usd", "days": 1})

    assert chart.json()["prices"][-1][1] == 30000


def test_market_chart_is_404_for_an_unknown_coin(api):
    response = api.get("/coins/nope/market_chart", params={"vs_currency": "usd", "days": 1})

    assert response.status_code == 404


def test_set_price_bumps_last_updated(api, fake_coingecko):
    before = markets(api, ids="cardano").json()[0]["last_updated"]
    fake_coingecko.set_price("cardano", "0.5")
    after = markets(api, ids="cardano").json()[0]

    assert after["current_price"] == 0.5
    assert after["last_updated"] > before


def test_move_changes_the_price_by_a_percentage(fake_coingecko):
    assert fake_coingecko.move("bitcoin", 10) == Decimal("25462.041")


def test_two_quick_moves_have_distinct_times(fake_coingecko):
    fake_coingecko.move("solana", 1)
    first = fake_coingecko.coins["solana"].last_updated
    fake_coingecko.move("solana", 1)

    assert fake_coingecko.coins["solana"].last_updated > first


def test_it_logs_requests_with_query_and_headers(api, fake_coingecko):
    api.get("/coins/markets", params={"vs_currency": "usd"}, headers={"x-cg-demo-api-key": "k"})
    api.get("/ping")

    first = fake_coingecko.requests[0]
    assert fake_coingecko.paths() == ["/coins/markets", "/ping"]
    assert first.query == {"vs_currency": "usd"}
    assert first.headers["x-cg-demo-api-key"] == "k"


def test_it_demands_the_plans_key_when_it_has_one(api, fake_coingecko):
    fake_coingecko.api_key, fake_coingecko.plan = "secret", "pro"

    assert api.get("/ping", headers={"x-cg-demo-api-key": "secret"}).status_code == 401
    assert api.get("/ping", headers={"x-cg-pro-api-key": "secret"}).status_code == 200


def test_it_rate_limits_with_retry_after(api, fake_coingecko):
    fake_coingecko.inject("429", retry_after=30)

    limited = api.get("/ping")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "30"
    assert limited.json()["status"]["error_code"] == 429
    assert api.get("/ping").status_code == 200


def test_it_rate_limits_without_retry_after(api, fake_coingecko):
    fake_coingecko.inject("rate_limit")

    limited = api.get("/ping")
    assert limited.status_code == 429 and "retry-after" not in limited.headers


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("503", 503)])
def test_it_fails_with_server_errors_for_the_next_n_requests(api, fake_coingecko, fault, status):
    fake_coingecko.inject(fault, times=2)

    assert [api.get("/ping").status_code for _ in range(3)] == [status, status, 200]


def test_a_fault_can_target_one_path(api, fake_coingecko):
    fake_coingecko.inject("500", path="/coins/list")

    assert api.get("/ping").status_code == 200
    assert api.get("/coins/list").status_code == 500


def test_a_persistent_fault_lasts_until_cleared(api, fake_coingecko):
    fake_coingecko.inject("503", times=None)
    assert [api.get("/ping").status_code for _ in range(3)] == [503] * 3

    fake_coingecko.clear_faults()
    assert api.get("/ping").status_code == 200


def test_it_answers_slowly(api, fake_coingecko):
    fake_coingecko.inject("slow", delay=1)

    with pytest.raises(httpx.ReadTimeout):
        api.get("/ping", timeout=0.1)
    assert api.get("/ping").status_code == 200


def test_it_truncates_json(api, fake_coingecko):
    fake_coingecko.inject("truncated")

    with pytest.raises(json.JSONDecodeError):
        markets(api).json()


def test_it_hangs_up_mid_body(api, fake_coingecko):
    fake_coingecko.inject("disconnect")

    with pytest.raises(httpx.RemoteProtocolError):
        markets(api)
    assert api.get("/ping").status_code == 200


def test_it_sends_malformed_json(api, fake_coingecko):
    fake_coingecko.inject("malformed")

    with pytest.raises(json.JSONDecodeError):
        api.get("/ping").json()


def test_it_sends_the_wrong_shape(api, fake_coingecko):
    fake_coingecko.inject("wrong_shape")

    assert isinstance(markets(api).json(), dict)


@pytest.mark.parametrize(
    ("fault", "value"),
    [
        ("null_price", None),
        ("negative_price", Decimal("-23147.31")),
        ("non_numeric_price", "n/a"),
        ("absurd_price", Decimal("1E+20")),
        ("zero_price", 0),
    ],
)
def test_it_spoils_one_coins_price(api, fake_coingecko, fault, value):
    fake_coingecko.inject(fault, coin="bitcoin")

    rows = {r["id"]: r for r in decimal_json(markets(api, ids="bitcoin,ethereum"))}
    assert rows["bitcoin"]["current_price"] == value
    assert rows["ethereum"]["current_price"] == Decimal("1647.12")
    assert decimal_json(markets(api, ids="bitcoin"))[0]["current_price"] == Decimal("23147.31")


def test_it_spoils_a_price_with_nan(api, fake_coingecko):
    fake_coingecko.inject("nan", coin="bitcoin")

    assert "NaN" in markets(api, ids="bitcoin").text


def test_it_removes_a_field(api, fake_coingecko):
    fake_coingecko.inject("missing", coin="bitcoin", field="last_updated")

    assert "last_updated" not in markets(api, ids="bitcoin").json()[0]


def test_it_dates_a_coin_in_the_future(api, fake_coingecko):
    fake_coingecko.inject("absurd", coin="bitcoin", field="last_updated")

    assert markets(api, ids="bitcoin").json()[0]["last_updated"].startswith("2099")


def test_data_faults_wait_for_a_response_with_their_coin(api, fake_coingecko):
    fake_coingecko.inject("null_price", coin="cosmos")
    markets(api, ids="bitcoin")

    assert markets(api, ids="cosmos").json()[0]["current_price"] is None


def test_it_spoils_a_chart_point(api, fake_coingecko):
    fake_coingecko.inject("negative", coin="bitcoin")
    prices = api.get(
        "/coins/bitcoin/market_chart", params={"vs_currency": "usd", "days": 1}
    ).json()["prices"]

    assert sum(1 for _, price in prices if price < 0) == 1


def test_it_refuses_unknown_faults(fake_coingecko):
    with pytest.raises(ValueError, match="unknown fault"):
        fake_coingecko.inject("meteor")
    with pytest.raises(ValueError, match="needs coin"):
        fake_coingecko.inject("null_price")


def test_exchange_rates_name_units_per_bitcoin_like_coingecko(api, fake_coingecko):
    fake_coingecko.set_exchange_rate("gbp", None)

    rates = decimal_json(api.get("/exchange_rates"))["rates"]

    assert rates["btc"] == {"name": "Bitcoin", "unit": "BTC", "value": 1, "type": "crypto"}
    assert rates["usd"] == {
        "name": "US Dollar", "unit": "$", "value": Decimal("23147.31"), "type": "fiat",
    }  # fmt: skip
    assert rates["eth"]["type"] == "crypto" and "gbp" not in rates
