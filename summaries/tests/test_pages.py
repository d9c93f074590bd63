"""Summary pages for the owner, another user (404, never 403) and anonymous visitors."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from django.urls import reverse

from notifications.models import Delivery, PushSubscription
from summaries.models import SummarySchedule
from summaries.sending import send_due_summaries
from summaries.tests.conftest import in_zone

pytestmark = pytest.mark.django_db

VALID = {
    "time_of_day": "07:30",
    "days": "weekdays",
    "channels": ["email", "in_app"],
    "enabled": "on",
}


@pytest.fixture
def schedule(make_schedule) -> SummarySchedule:
    return make_schedule(channels=["email"])


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def schedule_urls(schedule: SummarySchedule) -> list[str]:
    return [
        reverse("summaries:edit", args=[schedule.pk]),
        reverse("summaries:delete", args=[schedule.pk]),
    ]


def test_anonymous_visitors_are_sent_to_log_in(client, schedule):
    for url in [reverse("summaries:list"), reverse("summaries:create"), *schedule_urls(schedule)]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("account_login"))


def test_a_stranger_gets_404_for_the_owners_schedule(client, stranger, schedule):
    client.force_login(stranger)

    for url in schedule_urls(schedule):
        assert client.get(url).status_code == 404
        assert client.post(url, VALID).status_code == 404
    schedule.refresh_from_db()
    assert (schedule.time_of_day, schedule.channels) == (time(8, 0), ["email"])


def test_a_stranger_does_not_see_the_schedule_in_their_list(client, stranger, schedule):
    client.force_login(stranger)

    body = client.get(reverse("summaries:list")).content.decode()

    assert f'data-schedule-id="{schedule.pk}"' not in body


def test_the_list_shows_the_time_zone_the_times_are_in(logged_in, owner, schedule):
    in_zone(owner, "Asia/Tokyo")

    body = logged_in.get(reverse("summaries:list")).content.decode()

    assert "Times are in <strong>Asia/Tokyo</strong>" in body
    assert "Every day at 08:00" in body


def test_the_notification_settings_page_links_to_the_summaries(logged_in):
    body = logged_in.get(reverse("notifications:settings")).content.decode()

    assert f'href="{reverse("summaries:list")}"' in body


def test_the_owner_creates_a_schedule(logged_in, owner):
    response = logged_in.post(reverse("summaries:create"), VALID)

    assert response.status_code == 302
    schedule = SummarySchedule.objects.get(user=owner)
    assert (schedule.time_of_day, schedule.days, schedule.channels, schedule.enabled) == (
        time(7, 30),
        "weekdays",
        ["email", "in_app"],
        True,
    )


def test_the_form_names_the_zone_of_the_time(logged_in, owner):
    in_zone(owner, "America/New_York")

    body = logged_in.get(reverse("summaries:create")).content.decode()

    assert "Time (America/New_York)" in body


def test_the_owner_edits_and_turns_off_a_schedule(logged_in, schedule):
    response = logged_in.post(
        reverse("summaries:edit", args=[schedule.pk]),
        {"time_of_day": "18:45", "days": "daily", "channels": ["in_app"]},
    )

    assert response.status_code == 302
    schedule.refresh_from_db()
    assert (schedule.time_of_day, schedule.channels, schedule.enabled) == (
        time(18, 45),
        ["in_app"],
        False,
    )


def test_the_owner_deletes_a_schedule_after_confirming(logged_in, schedule):
    url = reverse("summaries:delete", args=[schedule.pk])

    assert "Delete this summary?" in logged_in.get(url).content.decode()
    assert logged_in.post(url).status_code == 302
    assert not SummarySchedule.objects.exists()


def test_a_schedule_needs_a_channel_and_a_time(logged_in):
    response = logged_in.post(reverse("summaries:create"), {"days": "daily"})

    form = response.context["form"]
    assert form.errors["channels"] == ["Choose at least one channel."]
    assert "time_of_day" in form.errors
    assert not SummarySchedule.objects.exists()


def test_web_push_is_refused_until_a_browser_has_push_enabled(logged_in, owner):
    data = {**VALID, "channels": ["web_push"]}

    response = logged_in.post(reverse("summaries:create"), data)

    assert response.status_code == 200
    assert 'value="web_push"' not in response.content.decode()  # not even offered
    assert not SummarySchedule.objects.exists()
    PushSubscription.objects.create(
        user=owner, endpoint="https://push.example/1", p256dh="k", auth="a"
    )
    assert logged_in.post(reverse("summaries:create"), data).status_code == 302


def test_past_the_limit_no_more_schedules_are_created(logged_in, make_schedule, settings):
    settings.SUMMARIES_MAX_PER_USER = 2
    make_schedule()
    make_schedule(at=time(20, 0))

    response = logged_in.post(reverse("summaries:create"), VALID)

    assert response.status_code == 200
    assert "You already have 2 summaries, the most allowed." in response.content.decode()
    assert SummarySchedule.objects.count() == 2


def test_the_list_shows_the_latest_summaries_and_how_each_delivery_went(
    logged_in, owner, make_schedule
):
    in_zone(owner, "Europe/Paris")
    make_schedule(channels=["email", "in_app"])
    send_due_summaries(datetime(2026, 1, 19, 7, 0, tzinfo=UTC))
    Delivery.objects.filter(channel="email").update(status="failed", last_error="no address")

    body = logged_in.get(reverse("summaries:list")).content.decode()

    assert "Mon 2026-01-19 08:00" in body
    assert "Email: failed" in body and "(no address)" in body
    assert "In-app: pending" in body
