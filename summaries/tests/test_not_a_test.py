"""A summary's delivery is a summary everywhere deliveries show: never a test notification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from notifications.delivery import deliver
from notifications.models import Delivery, DeliveryStatus
from prices.tests.metric_values import metric_value
from summaries.sending import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

EIGHT_IN_PARIS = datetime(2026, 1, 19, 7, 0, tzinfo=UTC)


@pytest.fixture
def delivery(owner, make_schedule) -> Delivery:
    in_zone(owner, "Europe/Paris")
    make_schedule(channels=["in_app"])
    send_due_summaries(EIGHT_IN_PARIS)
    return Delivery.objects.get()


def test_the_settings_page_does_not_list_it_among_test_sends(client, owner, delivery):
    client.force_login(owner)

    body = client.get(reverse("notifications:settings")).content.decode()

    assert f'data-delivery-id="{delivery.pk}"' not in body


def test_the_inbox_names_a_failed_one_a_scheduled_summary(client, owner, delivery):
    Delivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED)
    client.force_login(owner)

    body = client.get(reverse("notifications:inbox")).content.decode()

    assert "Scheduled summary" in body
    assert "Test notification" not in body


def test_the_api_gives_its_kind_and_summary(owner_api, delivery):
    [item] = owner_api.get("/api/v1/deliveries/").json()["results"]

    assert (item["kind"], item["summary"], item["event"]) == ("summary", delivery.summary_id, None)


def test_the_admin_lists_it_as_a_summary(admin_client, delivery):
    page = admin_client.get("/admin/notifications/delivery/")

    assert page.status_code == 200
    assert '<td class="field-kind">Summary</td>' in page.content.decode()


def test_it_counts_as_a_sent_delivery_without_an_alert_latency(delivery):
    sent = {"channel": "in_app", "outcome": "sent"}
    latency = {"channel": "in_app"}
    before = (
        metric_value("cryptomonitor_deliveries_total", sent),
        metric_value("cryptomonitor_delivery_latency_seconds_count", latency),
    )

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert metric_value("cryptomonitor_deliveries_total", sent) == before[0] + 1
    assert metric_value("cryptomonitor_delivery_latency_seconds_count", latency) == before[1]
