"""What a summary says: each watched coin's price and 24 h change, each active alert's distance."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert
from notifications.models import Delivery
from prices.models import Coin, ExchangeRate, PriceSource, PriceTick, WatchlistEntry
from summaries.content import EMPTY, summary_content
from summaries.sending import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

EIGHT_IN_PARIS = datetime(2026, 1, 19, 7, 0, tzinfo=UTC)


@pytest.fixture
def schedule(owner, make_schedule):
    in_zone(owner, "Europe/Paris")
    return make_schedule()


def test_coins_come_in_watchlist_order_with_price_and_change(schedule, watching):
    content = summary_content(schedule, EIGHT_IN_PARIS)

    assert [(c["symbol"], c["price_text"], c["change_text"]) for c in content["coins"]] == [
        ("BTC", "$70,250.50", "+1.25%"),
        ("ETH", "$3,512.00", "-0.40%"),
    ]


def test_coins_are_priced_in_the_readers_display_currency(schedule, owner, watching):
    ExchangeRate.objects.create(
        currency="eur", base="usd", rate=Decimal("0.9"), fetched_at=timezone.now(),
        source=PriceSource.COINGECKO,
    )  # fmt: skip
    owner.profile.display_currency = "eur"
    owner.profile.save()

    content = summary_content(schedule, EIGHT_IN_PARIS)

    assert content["currency"] == "eur"
    assert [(c["price"], c["price_text"]) for c in content["coins"]] == [
        ("63225.45", "€63,225.45"),
        ("3160.8", "€3,160.80"),
    ]


def test_with_a_stale_rate_coins_are_priced_in_the_base_and_the_text_says_why(
    schedule, owner, watching
):
    ExchangeRate.objects.create(
        currency="eur", base="usd", rate=Decimal("0.9"),
        fetched_at=timezone.now() - timedelta(days=1), source=PriceSource.COINGECKO,
    )  # fmt: skip
    owner.profile.display_currency = "eur"
    owner.profile.save()

    content = summary_content(schedule, EIGHT_IN_PARIS)

    assert content["currency"] == "usd"
    assert content["coins"][0]["price_text"] == "$70,250.50"
    assert "Prices are in USD: the EUR exchange rate is out of date." in content["text"]


def test_an_alert_whose_currency_has_no_usable_rate_says_it_waits_for_one(schedule, owner, bitcoin):
    Alert.objects.create(
        user=owner, coin=bitcoin, condition="below", target=Decimal("60000"), currency="gbp"
    )

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["alerts"]

    assert row["distance_text"] == "waiting for a fresh GBP exchange rate"


def test_an_alert_in_a_currency_no_longer_offered_says_it_is_not_evaluated(
    schedule, owner, bitcoin, settings
):
    Alert.objects.create(
        user=owner, coin=bitcoin, condition="below", target=Decimal("60000"), currency="gbp"
    )
    settings.DISPLAY_CURRENCIES = ["usd", "eur"]

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["alerts"]

    assert row["distance_text"] == "not evaluated: GBP is no longer offered, edit its currency"


def test_a_coin_without_a_price_yet_says_so(schedule, owner):
    coin = Coin.objects.create(coingecko_id="newcoin", symbol="new", name="Newcoin")
    WatchlistEntry.objects.create(user=owner, coin=coin)

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["coins"]

    assert (row["price"], row["price_text"], row["change_text"]) == (None, "—", "—")


def test_only_active_alerts_are_listed(schedule, owner, bitcoin):
    Alert.objects.create(user=owner, coin=bitcoin, condition="below", target=Decimal("60000"))
    Alert.objects.create(
        user=owner, coin=bitcoin, condition="above", target=Decimal("90000"), status="paused"
    )

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["alerts"]

    assert row["description"] == "price is at or below 60000"
    assert row["distance_text"] == "-$10,250.50 (-14.59%) to the target"


def test_a_movement_alert_says_how_far_the_price_moved_in_its_window(schedule, owner, bitcoin):
    PriceTick.objects.create(
        coin=bitcoin,
        time=bitcoin.price_updated_at - timedelta(minutes=30),
        price=Decimal("69000"),
        source=PriceSource.COINGECKO,
    )
    Alert.objects.create(
        user=owner, coin=bitcoin, condition="pct_up", percent=Decimal("5"), window="1h"
    )

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["alerts"]

    assert row["distance_text"] == "moved +1.81% so far"


def test_a_24h_change_alert_says_its_distance_in_points(schedule, owner, bitcoin):
    Coin.objects.filter(pk=bitcoin.pk).update(change_24h_pct=Decimal("1.5"))
    Alert.objects.create(
        user=owner, coin=bitcoin, condition="change_24h_above", threshold=Decimal("5")
    )

    [row] = summary_content(schedule, EIGHT_IN_PARIS)["alerts"]

    assert (row["distance"], row["distance_percent"]) == ("3.5", None)
    assert row["distance_text"].startswith("+3.50 points (")


def test_the_title_names_the_local_day_time_and_zone(schedule):
    content = summary_content(schedule, EIGHT_IN_PARIS)

    assert content["title"] == "Your summary for Monday 19 January, 08:00 (Europe/Paris)"
    assert content["local_time"] == "2026-01-19T08:00:00+01:00"


def test_an_empty_summary_still_goes_and_says_what_would_fill_it(schedule):
    assert send_due_summaries(EIGHT_IN_PARIS) == 1

    content = Delivery.objects.get().summary.content
    assert (content["coins"], content["alerts"]) == ([], [])
    assert content["text"].endswith(EMPTY)
    assert content["short"].startswith("Nothing to summarise")


def test_the_content_is_kept_as_it_was_when_claimed(schedule, watching, bitcoin):
    send_due_summaries(EIGHT_IN_PARIS)
    Coin.objects.filter(pk=bitcoin.pk).update(price=Decimal("1"))

    content = Delivery.objects.get().summary.content
    assert content["coins"][0]["price"] == "70250.5"
