"""Two evaluators of the same batch at once, on real PostgreSQL: one event per alert."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from alerts.evaluation import evaluate_batch
from alerts.models import Alert, AlertEvent
from notifications import outbox
from notifications.models import Delivery
from prices.models import Coin, PriceSource, PriceTick

ROUNDS = 5
ALERTS_PER_KIND = 40
KINDS = [
    {"condition": "above", "target": Decimal("100")},
    {"condition": "below", "target": Decimal("200"), "frequency": "every_time"},
    {"condition": "crosses_up", "target": Decimal("105")},
    {"condition": "crosses", "target": Decimal("101"), "frequency": "every_time"},
    {"condition": "pct_up", "percent": Decimal("5"), "window": "1h"},
    {"condition": "market_cap_above", "threshold": Decimal("1000"), "frequency": "every_time"},
    {"condition": "enters_range", "range_low": Decimal("105"), "range_high": Decimal("120")},
    # bulk_create skips save(), which would start the band at the coin's price.
    {
        "condition": "pct_step_up",
        "percent": Decimal("5"),
        "step_reference": Decimal("100"),
        "step_high": Decimal("105"),
        "frequency": "every_time",
    },
]


def evaluate_in_parallel(batch: list[dict], now) -> list[list[AlertEvent]]:
    barrier = threading.Barrier(2)
    results: list[list[AlertEvent]] = [[], []]
    errors: list[BaseException] = []

    def run(slot: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[slot] = evaluate_batch(batch, now=now)
        except BaseException as error:  # reported by the test below
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(slot,)) for slot in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


@pytest.mark.django_db(transaction=True)
def test_two_evaluators_of_one_batch_fire_each_alert_exactly_once(owner, monkeypatch):
    enqueued: list[int] = []
    # Record what would be enqueued: no worker consumes this test's queue.
    monkeypatch.setattr(outbox, "_enqueue", enqueued.extend)
    coin = Coin.objects.create(coingecko_id="race", symbol="rc", name="Race", is_tracked=True)
    start = timezone.now() - timedelta(minutes=30)
    PriceTick.objects.create(
        coin=coin, time=start, price=Decimal("100"), source=PriceSource.COINGECKO
    )

    for round_ in range(ROUNDS):
        alerts = [
            Alert(user=owner, coin=coin, channels=["email", "in_app"], **kind)
            for kind in KINDS
            for _ in range(ALERTS_PER_KIND)
        ]
        Alert.objects.bulk_create(alerts)
        time = start + timedelta(minutes=round_ + 1)
        tick = PriceTick.objects.create(
            coin=coin, time=time, price=Decimal("110"), source=PriceSource.COINGECKO
        )
        batch = [
            {
                "coin_id": coin.pk,
                "tick_id": tick.pk,
                "price": "110",
                "previous_price": "100",
                "time": time.isoformat(),
                "market_cap": "2000",
                "previous_market_cap": "900",
            }
        ]

        first, second = evaluate_in_parallel(batch, now=time)

        fired = [event.alert_id for event in first + second]
        assert sorted(fired) == sorted(alert.pk for alert in alerts)
        Alert.objects.filter(pk__in=[alert.pk for alert in alerts]).update(status="paused")

    assert AlertEvent.objects.count() == ROUNDS * len(KINDS) * ALERTS_PER_KIND
    assert Delivery.objects.count() == 2 * AlertEvent.objects.count()
    assert sorted(enqueued) == sorted(Delivery.objects.values_list("pk", flat=True))
