"""POST /api/v1/alerts/preview/: a create's body, validated like one, nothing saved."""

from __future__ import annotations

import uuid
from datetime import UTC, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from alerts.preview import MAX_FIRINGS, MAX_REPLAYED_FIRINGS
from prices.models import ExchangeRate, PriceRollup, PriceSource, PriceTick, Resolution

pytestmark = pytest.mark.django_db

URL = "/api/v1/alerts/preview/"
FIELDS = {
    "capped",
    "currency",
    "fired_24h",
    "fired_7d",
    "fired_30d",
    "firings",
    "from",
    "to",
    "resolution",
    "ticks_from",
    "history_seconds",
    "note",
    "chart",
}


@pytest.fixture(autouse=True)
def fresh_counters(settings):
    """Throttle counters of this test only."""
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": f"preview-test-{uuid.uuid4()}"},
    }


def store(coin, prices_every_minute: list[str], end=None) -> list[PriceTick]:
    """Ticks a minute apart, the last one a minute ago."""
    end = end or timezone.now().replace(microsecond=0) - timedelta(minutes=1)
    count = len(prices_every_minute)
    return PriceTick.objects.bulk_create(
        PriceTick(
            coin=coin,
            time=end - timedelta(minutes=count - 1 - index),
            price=Decimal(price),
            source=PriceSource.COINGECKO,
        )
        for index, price in enumerate(prices_every_minute)
    )


def post(client, **data):
    body = {"coin": "bitcoin", "condition": "above", "target": "30000", **data}
    return client.post(URL, body, format="json")


def test_the_owner_gets_the_counts_the_firings_and_what_was_replayed(owner_api, bitcoin):
    ticks = store(bitcoin, ["29000", "31000", "29000", "31000"])

    response = post(owner_api, frequency="every_time", cooldown_seconds=60)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == FIELDS
    assert (body["fired_24h"], body["fired_7d"], body["fired_30d"]) == (2, 2, 2)
    assert [firing["price"] for firing in body["firings"]] == ["31000", "31000"]
    newest = ticks[3].time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert body["firings"][0]["time"] == newest
    assert body["resolution"] == "ticks"
    assert body["note"].startswith("Only 4 minutes of history")


def test_an_alert_in_euros_is_replayed_and_charted_in_euros(owner_api, bitcoin):
    ExchangeRate.objects.create(
        currency="eur", base="usd", rate=Decimal("0.9"), fetched_at=timezone.now(),
        source=PriceSource.COINGECKO,
    )  # fmt: skip
    store(bitcoin, ["29000", "31000"])  # 26,100 and 27,900 EUR

    response = post(owner_api, currency="eur", target="27000")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["currency"] == "eur"
    assert [firing["price"] for firing in body["firings"]] == ["27900"]
    assert body["chart"][-1]["price"] == "27900"


def test_an_alert_in_a_currency_with_a_stale_rate_is_not_replayed_and_says_why(
    owner_api, bitcoin, settings
):
    ExchangeRate.objects.create(
        currency="eur", base="usd", rate=Decimal("0.9"),
        fetched_at=timezone.now() - timedelta(seconds=settings.EXCHANGE_RATE_STALE_SECONDS + 1),
        source=PriceSource.COINGECKO,
    )  # fmt: skip
    store(bitcoin, ["29000", "31000"])

    response = post(owner_api, currency="eur", target="27000")

    assert response.status_code == 400
    [message] = response.json()["error"]["fields"]["currency"]
    assert message.startswith("Cannot replay in EUR: the EUR exchange rate is out of date")


def test_it_saves_nothing(owner_api, bitcoin):
    store(bitcoin, ["31000"])
    post(owner_api)
    assert not Alert.objects.exists()


def test_it_refuses_what_a_create_refuses_with_the_same_errors(owner_api, bitcoin):
    bodies = [
        {"condition": "pct_up", "percent": "5"},
        {"target": "-1"},
        {"coin": "nocoin"},
        {"frequency": "every_time", "cooldown_seconds": 10},
        {"expires_at": (timezone.now() - timedelta(hours=1)).isoformat()},
    ]
    for data in bodies:
        previewed = post(owner_api, **data)
        created = owner_api.post(
            "/api/v1/alerts/",
            {"coin": "bitcoin", "condition": "above", "target": "30000", **data},
            format="json",
        )
        assert previewed.status_code == created.status_code == 400, data
        assert previewed.json() == created.json()


def test_at_the_cap_of_active_alerts_it_refuses_as_a_create_does(
    owner_api, owner, bitcoin, make_alert, settings
):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    make_alert(target=Decimal("1"))
    body = {"coin": "bitcoin", "condition": "above", "target": "30000"}
    previewed = owner_api.post(URL, body, format="json")
    created = owner_api.post("/api/v1/alerts/", body, format="json")
    assert previewed.status_code == created.status_code == 400
    assert previewed.json() == created.json()
    assert "non_field_errors" in previewed.json()["error"]["fields"]


def test_an_edit_at_the_cap_is_validated_as_the_alerts_replacement(
    owner_api, bitcoin, make_alert, settings
):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    edited = make_alert(target=Decimal("1"))
    assert post(owner_api).status_code == 400  # a new alert would pass the cap
    response = owner_api.post(f"{URL}?alert={edited.pk}", {"coin": "bitcoin",
        "condition": "above", "target": "30000"}, format="json")  # fmt: skip
    assert response.status_code == 200, response.content
    edited.refresh_from_db()
    assert edited.target == Decimal("1")  # nothing saved


def test_another_users_alert_is_a_404_and_a_bad_id_a_400(owner_api, stranger, bitcoin):
    theirs = Alert.objects.create(user=stranger, coin=bitcoin, condition="above", target=1)
    assert owner_api.post(f"{URL}?alert={theirs.pk}", {}, format="json").status_code == 404
    for bad in ("x", "²", "9" * 30):
        response = owner_api.post(f"{URL}?alert={bad}", {}, format="json")
        assert response.status_code == 400, bad
        assert "alert" in response.json()["error"]["fields"]


def test_anonymous_callers_get_a_401(api_client, bitcoin):
    assert post(api_client).status_code == 401


def test_it_lists_only_the_newest_firings_and_counts_them_all(owner_api, bitcoin):
    store(bitcoin, ["31000", "29000"] * 20)

    body = post(owner_api, frequency="every_time", cooldown_seconds=60).json()

    assert body["fired_30d"] == 20
    assert len(body["firings"]) == MAX_FIRINGS
    times = [firing["time"] for firing in body["firings"]]
    assert times == sorted(times, reverse=True)


def test_a_step_alert_that_would_fire_every_minute_stops_at_the_cap_and_says_so(owner_api, bitcoin):
    # A 0.01 % step moves its band at each firing: one statement per firing.
    store(bitcoin, [str(30000 + 10 * (index % 2)) for index in range(MAX_REPLAYED_FIRINGS + 50)])

    body = post(
        owner_api,
        condition="pct_step",
        target=None,
        percent="0.01",
        frequency="every_time",
        cooldown_seconds=60,
    ).json()

    assert body["capped"] is True
    assert body["fired_30d"] == MAX_REPLAYED_FIRINGS
    assert body["note"].startswith(f"It would have fired more than {MAX_REPLAYED_FIRINGS} times")


def test_a_quiet_alert_is_not_capped(owner_api, bitcoin):
    store(bitcoin, ["29000", "31000"])

    assert post(owner_api, frequency="every_time", cooldown_seconds=60).json()["capped"] is False


def test_it_counts_each_period_from_now(owner_api, bitcoin):
    now = timezone.now().replace(microsecond=0)
    for days in (20, 3, 0):
        store(bitcoin, ["29000", "31000"], end=now - timedelta(days=days, minutes=1))

    body = post(owner_api, frequency="every_time", cooldown_seconds=60).json()

    assert (body["fired_24h"], body["fired_7d"], body["fired_30d"]) == (1, 2, 3)
    assert body["note"] == "Only 20 days of history: showing what it would have done in that time."


def test_a_coin_without_history_says_so(owner_api, bitcoin):
    body = post(owner_api).json()
    assert body["fired_30d"] == 0 and body["firings"] == [] and body["from"] is None
    assert body["note"] == "No price history for this coin yet: there is nothing to replay."


def test_beyond_the_ticks_it_replays_minute_closes(owner_api, bitcoin):
    now = timezone.now().replace(second=0, microsecond=0)
    first_tick = now - timedelta(days=2)
    bucket = now - timedelta(days=10)
    PriceRollup.objects.create(
        coin=bitcoin,
        resolution=Resolution.MINUTE,
        bucket=bucket,
        open=Decimal("29000"),
        high=Decimal("31500"),
        low=Decimal("28000"),
        close=Decimal("31000"),
        open_time=bucket,
        close_time=bucket + timedelta(seconds=50),
    )
    store(bitcoin, ["29000", "32000"], end=first_tick + timedelta(minutes=1))

    body = post(owner_api, frequency="every_time", cooldown_seconds=60).json()

    assert body["resolution"] == "1m+ticks"
    closes = [(firing["time"][:19], firing["price"]) for firing in body["firings"]]
    assert closes[-1] == ((bucket + timedelta(seconds=50)).isoformat()[:19], "31000")
    assert closes[0][1] == "32000"
    assert body["ticks_from"][:16] == first_tick.isoformat()[:16]


def test_it_is_throttled_by_its_own_rate(owner_api, bitcoin, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "alert_preview": "2/min",
        },
    }
    statuses = [post(owner_api).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert owner_api.get("/api/v1/alerts/").status_code == 200
