"""An owner's edit committed while an evaluator waits on the alert's row lock.

The evaluator matches alerts on its snapshot; after the lock wait only the
new row version counts: an alert edited away from the batch is not claimed
(no firing without an event), an edit that leaves the match alone still fires.
"""

import threading
import time
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone

from alerts.evaluation import evaluate_batch
from alerts.models import Alert, AlertEvent, Status
from prices.models import Coin, ExchangeRate, PriceSource


def wait_until_blocked_on_a_lock(timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.02)
    raise AssertionError("the evaluator never waited on the edit's row lock")


def evaluate_during_edit(alert: Alert, edit, batch: list[dict]) -> list[AlertEvent]:
    """Run `edit` on the alert in an open transaction, evaluate, then commit the edit."""
    edited = threading.Event()
    commit = threading.Event()
    result: list[AlertEvent] = []
    errors: list[BaseException] = []

    def editor() -> None:
        try:
            with transaction.atomic():
                mine = Alert.objects.get(pk=alert.pk)
                edit(mine)
                mine.save_edit()
                edited.set()
                assert commit.wait(timeout=20)
        except BaseException as error:
            errors.append(error)
            edited.set()
        finally:
            connection.close()

    def evaluator() -> None:
        try:
            result.extend(evaluate_batch(batch))
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    edit_thread = threading.Thread(target=editor)
    edit_thread.start()
    assert edited.wait(timeout=20)
    evaluate_thread = threading.Thread(target=evaluator)
    evaluate_thread.start()
    try:
        wait_until_blocked_on_a_lock()
    finally:
        commit.set()
        edit_thread.join(timeout=30)
        evaluate_thread.join(timeout=30)
    assert not errors, errors
    return result


@pytest.fixture
def coins(db) -> tuple[Coin, Coin]:
    return (
        Coin.objects.create(coingecko_id="coin-x", symbol="x", name="X", is_tracked=True),
        Coin.objects.create(coingecko_id="coin-y", symbol="y", name="Y", is_tracked=True),
    )


@pytest.fixture
def above_100_on_x(owner, coins) -> Alert:
    return Alert.objects.create(
        user=owner, coin=coins[0], condition="above", target=Decimal(100), channels=["in_app"]
    )


def batch_for(coin: Coin, price: str, previous: str) -> list[dict]:
    return [
        {
            "coin_id": coin.pk,
            "tick_id": None,
            "price": price,
            "previous_price": previous,
            "time": timezone.now().isoformat(),
        }
    ]


@pytest.mark.django_db(transaction=True)
def test_an_alert_edited_away_from_the_batch_while_locked_is_not_claimed(above_100_on_x, coins):
    x, y = coins
    alert = above_100_on_x

    def edit(mine: Alert) -> None:
        mine.coin = y
        mine.target = Decimal(1_000_000)

    events = evaluate_during_edit(alert, edit, batch_for(x, "150", "90"))

    alert.refresh_from_db()
    assert events == []
    assert AlertEvent.objects.filter(alert=alert).count() == 0
    assert (alert.status, alert.last_triggered_at, alert.coin_id) == (Status.ACTIVE, None, y.pk)


@pytest.mark.django_db(transaction=True)
def test_an_edit_that_keeps_the_match_still_fires_once_on_the_new_row(above_100_on_x, coins):
    x, _ = coins
    alert = above_100_on_x

    def edit(mine: Alert) -> None:
        mine.channels = ["email", "in_app"]

    events = evaluate_during_edit(alert, edit, batch_for(x, "150", "90"))

    alert.refresh_from_db()
    assert [event.alert_id for event in events] == [alert.pk]
    assert alert.status == Status.TRIGGERED
    assert alert.events.get().deliveries.count() == 2


@pytest.mark.django_db(transaction=True)
def test_an_alert_edited_into_another_currency_while_locked_is_not_claimed(owner, coins):
    x, _ = coins
    for currency in ("eur", "gbp"):
        ExchangeRate.objects.create(
            currency=currency, base="usd", rate=Decimal("0.9"), fetched_at=timezone.now(),
            source=PriceSource.COINGECKO,
        )  # fmt: skip
    alert = Alert.objects.create(
        user=owner, coin=x, condition="above", target=Decimal(100), currency="eur",
        channels=["in_app"],
    )  # fmt: skip
    # Another alert in GBP, so the batch has GBP rows the edited alert could join.
    Alert.objects.create(user=owner, coin=x, condition="above", target=Decimal(10**6),
                         currency="gbp")  # fmt: skip

    def edit(mine: Alert) -> None:
        mine.currency = "gbp"  # 100 GBP: the same target, another currency's rows

    events = evaluate_during_edit(alert, edit, batch_for(x, "150", "90"))

    alert.refresh_from_db()
    assert events == []
    assert (alert.status, alert.currency, alert.events.count()) == (Status.ACTIVE, "gbp", 0)
