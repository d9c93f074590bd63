"""The staff-only System status page: feed, queues, backlog and delivery failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery, DeliveryStatus
from prices.metrics import record_poll
from prices.models import Coin, FeedState, PriceTick

pytestmark = pytest.mark.django_db

URL = "/admin/status/"


@pytest.fixture
def staff_client(client):
    staff = get_user_model().objects.create_user(
        "operator", "operator@example.com", "a long passphrase", is_staff=True
    )
    client.force_login(staff)
    return client


@pytest.fixture
def someone():
    return get_user_model().objects.create_user("someone", "someone@example.com", "pass phrase x")


def failed_delivery(user, error: str, updated_ago: timedelta = timedelta(0)) -> Delivery:
    delivery = Delivery.objects.create(
        user=user, channel="webhook", status=DeliveryStatus.FAILED, attempts=6, last_error=error
    )
    Delivery.objects.filter(pk=delivery.pk).update(updated_at=timezone.now() - updated_ago)
    return delivery


def test_the_admin_home_links_to_the_system_status_page(staff_client) -> None:
    page = staff_client.get("/admin/").content.decode()

    assert f'href="{URL}"' in page
    assert reverse("system_status") == URL


def test_a_signed_in_user_who_is_not_staff_is_sent_to_the_login(client, someone) -> None:
    client.force_login(someone)

    response = client.get(URL)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_a_visitor_is_sent_to_the_login(client) -> None:
    response = client.get(URL)

    assert response.status_code == 302
    assert "login" in response["Location"]


def test_it_shows_a_failing_feed_with_its_error_and_backoff(staff_client, settings) -> None:
    settings.PRICE_SOURCE = "coingecko"
    now = timezone.now()
    FeedState.objects.create(
        name="coingecko",
        last_success_at=now - timedelta(minutes=5),
        last_attempt_at=now,
        consecutive_failures=4,
        last_error="HTTP 429 Too Many Requests",
        backoff_until=now + timedelta(minutes=2),
    )

    page = staff_client.get(URL).content.decode()

    assert "Price feed: coingecko — backing off" in page
    assert "HTTP 429 Too Many Requests" in page
    assert '<th scope="row">Failures in a row</th><td>4</td>' in page


def test_it_counts_the_ticks_stored_in_each_recent_minute(staff_client) -> None:
    coins = [
        Coin.objects.create(coingecko_id=f"coin-{n}", symbol=f"c{n}", name=f"C{n}")
        for n in range(3)
    ]
    moment = timezone.now().replace(second=30, microsecond=0) - timedelta(minutes=1)
    for coin in coins:
        PriceTick.objects.create(coin=coin, time=moment, price="1.5", source="simulated")
    PriceTick.objects.create(
        coin=coins[0], time=moment - timedelta(hours=1), price="1.4", source="simulated"
    )

    response = staff_client.get(URL)

    assert response.context["status"].ticks_per_minute == [(moment.replace(second=0), 3)]


def test_it_counts_the_outbox_backlog_by_state(staff_client, someone) -> None:
    Delivery.objects.create(user=someone, channel="email", status=DeliveryStatus.PENDING)
    Delivery.objects.create(
        user=someone, channel="email", status=DeliveryStatus.PENDING, attempts=2, last_error="x"
    )
    Delivery.objects.create(user=someone, channel="email", status=DeliveryStatus.SENDING)

    backlog = staff_client.get(URL).context["status"].backlog

    assert (backlog["pending"], backlog["retry"], backlog["sending"]) == (1, 1, 1)


def test_it_lists_the_last_days_failed_deliveries_with_links_to_the_admin(
    staff_client, someone
) -> None:
    recent = failed_delivery(someone, "HTTP 500 from the receiver")
    failed_delivery(someone, "an old failure", updated_ago=timedelta(days=2))

    page = staff_client.get(URL).content.decode()

    assert reverse("admin:notifications_delivery_change", args=[recent.pk]) in page
    assert "HTTP 500 from the receiver" in page
    assert "an old failure" not in page


def test_it_shows_the_length_of_each_celery_queue(staff_client) -> None:
    queues = staff_client.get(URL).context["status"].queue_lengths

    assert set(queues) == {"celery", "notifications"}
    assert all(isinstance(length, int) for length in queues.values())


def test_it_counts_polls_by_outcome_from_the_metrics_the_processes_keep(staff_client) -> None:
    before = staff_client.get(URL).context["status"].counters["polls"].get("error", 0)

    record_poll("error", seconds=0.2, stored=0)

    after = staff_client.get(URL).context["status"].counters["polls"]["error"]
    assert after == before + 1
