"""Alerts set in another currency than the base, matched on the converted price tick by tick."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from alerts.models import Alert, AlertEvent, Condition
from alerts.tests.conftest import fired_ids
from prices.models import ExchangeRate, PriceSource

pytestmark = pytest.mark.django_db

EUR_PER_USD = Decimal("0.9")


@pytest.fixture
def euro_rate(db):
    # Fetched now: fresh for the feed's ticks (two days ago) and for saves.
    return ExchangeRate.objects.create(
        currency="eur",
        base="usd",
        rate=EUR_PER_USD,
        fetched_at=timezone.now(),
        source=PriceSource.COINGECKO,
    )


def test_an_alert_in_euros_fires_when_the_converted_price_reaches_its_target(
    feed, make_alert, euro_rate
):
    alert = make_alert(Condition.ABOVE, target=Decimal("27000"), currency="eur")

    assert fired_ids(feed.tick("29999")) == set()  # 26,999.10 EUR
    assert fired_ids(feed.tick("30000")) == {alert.pk}  # 27,000 EUR


def test_a_base_alert_with_the_same_number_is_not_matched_in_euros(feed, make_alert, euro_rate):
    in_dollars = make_alert(Condition.ABOVE, target=Decimal("27000"))
    in_euros = make_alert(Condition.ABOVE, target=Decimal("29000"), currency="eur")

    assert fired_ids(feed.tick("28000")) == {in_dollars.pk}  # 25,200 EUR: not yet
    assert fired_ids(feed.tick("32300")) == {in_euros.pk}  # 29,070 EUR


def test_the_event_records_the_price_in_the_currency_and_the_rate_it_was_converted_with(
    feed, make_alert, euro_rate
):
    make_alert(Condition.CROSSES_UP, target=Decimal("27000"), currency="eur")

    feed.tick("29000")
    (fired,) = feed.tick("30100")

    event = AlertEvent.objects.get(pk=fired.pk)
    assert (event.currency, event.exchange_rate) == ("eur", EUR_PER_USD)
    assert (event.price, event.previous_price) == (Decimal("27090"), Decimal("26100"))
    assert event.price / event.exchange_rate == Decimal("30100")  # the tick, in the base
    assert event.reason == "Price crossed up through 27000 EUR (€26,100.00 → €27,090.00)."


def test_a_movement_alert_in_euros_words_its_prices_in_euros(feed, make_alert, euro_rate):
    make_alert(Condition.PCT_UP, percent=Decimal("5"), window="1h", currency="eur")

    feed.tick("30000")
    (fired,) = feed.tick("31500")

    assert fired.reason == (
        "Price rose 5.00% within 1 hour (€27,000.00 → €28,350.00), at least the 5% asked for."
    )


def test_an_alert_in_a_currency_whose_rate_went_stale_waits_for_a_fresh_rate(
    feed, make_alert, euro_rate, settings
):
    alert = make_alert(Condition.ABOVE, target=Decimal("27000"), currency="eur")
    euro_rate.fetched_at = feed.time - timedelta(seconds=settings.EXCHANGE_RATE_STALE_SECONDS + 60)
    euro_rate.save()

    assert fired_ids(feed.tick("31000")) == set()

    euro_rate.fetched_at = feed.time
    euro_rate.save()
    assert fired_ids(feed.tick("31000")) == {alert.pk}


def test_an_alert_in_a_currency_never_fetched_is_not_evaluated(feed, make_alert):
    make_alert(Condition.ABOVE, target=Decimal("1"), currency="gbp")

    assert fired_ids(feed.tick("31000")) == set()


def test_a_step_alert_in_euros_moves_its_band_to_the_firing_price_in_euros(
    feed, make_alert, euro_rate
):
    alert = make_alert(
        Condition.PCT_STEP_UP, percent=Decimal("10"), currency="eur",
        step_reference=Decimal("27000"), step_high=Decimal("29700"),
    )  # fmt: skip

    assert fired_ids(feed.tick("32999")) == set()  # 29,699.10 EUR
    assert fired_ids(feed.tick("33000")) == {alert.pk}  # 29,700 EUR

    alert.refresh_from_db()
    assert (alert.step_reference, alert.step_high) == (Decimal("29700"), Decimal("32670"))


def test_an_every_time_level_in_euros_re_arms_on_the_converted_price(feed, make_alert, euro_rate):
    alert = make_alert(
        Condition.ABOVE, target=Decimal("27000"), currency="eur",
        frequency="every_time", cooldown_seconds=0,
    )  # fmt: skip

    assert fired_ids(feed.tick("30000")) == {alert.pk}
    assert fired_ids(feed.tick("29990")) == set()  # 26,991 EUR: re-arms
    assert fired_ids(feed.tick("30000")) == {alert.pk}


def test_a_market_cap_threshold_in_euros_compares_the_converted_cap(feed, make_alert, euro_rate):
    alert = make_alert(
        Condition.MARKET_CAP_ABOVE, threshold=Decimal("900000000000"), currency="eur"
    )

    assert fired_ids(feed.tick("30000", market_cap="999999999999")) == set()
    (fired,) = feed.tick("30000", market_cap="1000000000000")

    assert fired.alert_id == alert.pk
    assert fired.reason == "Market cap 900B EUR is at or above 900B EUR."


def test_a_new_step_alert_in_euros_starts_from_the_coins_price_in_euros(owner, bitcoin, euro_rate):
    alert = Alert.objects.create(
        user=owner, coin=bitcoin, condition=Condition.PCT_STEP, percent=Decimal("10"),
        currency="eur",
    )  # fmt: skip

    # The coin is at 30,000 USD: 27,000 EUR.
    assert (alert.step_reference, alert.step_low, alert.step_high) == (
        Decimal("27000"), Decimal("24300"), Decimal("29700")
    )  # fmt: skip


def test_a_step_alert_cannot_be_set_in_a_currency_without_a_usable_rate(owner, bitcoin):
    alert = Alert(
        user=owner, coin=bitcoin, condition=Condition.PCT_STEP, percent=Decimal("10"),
        currency="gbp",
    )  # fmt: skip

    with pytest.raises(ValidationError) as refused:
        alert.full_clean()

    assert refused.value.message_dict["currency"] == [
        "A step starts from the price in GBP, and no GBP exchange rate has been fetched yet; "
        "choose another currency or try again later."
    ]


def test_with_a_third_currency_in_use_a_euro_step_moves_to_the_price_in_euros(
    feed, make_alert, euro_rate
):
    ExchangeRate.objects.create(
        currency="jpy", base="usd", rate=Decimal("150"), fetched_at=timezone.now(),
        source=PriceSource.COINGECKO,
    )  # fmt: skip
    make_alert(Condition.ABOVE, target=Decimal("100000000"), currency="jpy")
    alert = make_alert(
        Condition.PCT_STEP_UP, percent=Decimal("10"), currency="eur",
        step_reference=Decimal("27000"), step_high=Decimal("29700"),
    )  # fmt: skip

    assert fired_ids(feed.tick("33000")) == {alert.pk}

    alert.refresh_from_db()
    assert alert.step_reference == Decimal("29700")


def test_an_alert_on_bitcoin_cannot_be_set_in_bitcoin(owner, bitcoin):
    alert = Alert(
        user=owner, coin=bitcoin, condition=Condition.ABOVE, target=Decimal("1.01"),
        currency="btc",
    )  # fmt: skip

    with pytest.raises(ValidationError) as refused:
        alert.full_clean()

    assert refused.value.message_dict["currency"] == [
        "Bitcoin is always 1 BTC; choose another currency."
    ]
