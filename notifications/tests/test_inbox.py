"""The inbox page: owner, stranger and anonymous visitor."""

from __future__ import annotations

import pytest
from django.utils import timezone

from notifications.models import InAppNotification

pytestmark = pytest.mark.django_db


def entry(user, title: str, read: bool = False) -> InAppNotification:
    return InAppNotification.objects.create(
        user=user, title=title, url="/alerts/1/", read_at=timezone.now() if read else None
    )


def test_it_lists_unread_entries_first(client, owner):
    entry(owner, "old unread")
    entry(owner, "read one", read=True)
    entry(owner, "new unread")
    client.force_login(owner)

    page = client.get("/notifications/")

    titles = [e.title for e in page.context["page"].object_list]
    assert titles == ["new unread", "old unread", "read one"]
    assert page.context["unread_notifications_count"] == 2


def test_it_shows_only_the_users_own_entries(client, owner, stranger):
    entry(stranger, "not yours")
    client.force_login(owner)

    assert "not yours" not in client.get("/notifications/").content.decode()


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/notifications/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_marking_read_clears_the_badge(client, owner):
    unread = entry(owner, "BTC above 30000")
    client.force_login(owner)

    response = client.post(f"/notifications/{unread.pk}/read/")

    assert response.status_code == 302
    unread.refresh_from_db()
    assert not unread.is_unread
    assert client.get("/notifications/").context["unread_notifications_count"] == 0


def test_marking_read_and_opening_goes_to_the_alert(client, owner):
    unread = entry(owner, "BTC above 30000")
    client.force_login(owner)

    response = client.post(f"/notifications/{unread.pk}/read/", {"open": "1"})

    assert response["Location"] == "/alerts/1/"


def test_a_stranger_cannot_mark_an_entry_read(client, owner, stranger):
    unread = entry(owner, "BTC above 30000")
    client.force_login(stranger)

    assert client.post(f"/notifications/{unread.pk}/read/").status_code == 404
    unread.refresh_from_db()
    assert unread.is_unread


def test_marking_read_rejects_get(client, owner):
    unread = entry(owner, "BTC above 30000")
    client.force_login(owner)

    assert client.get(f"/notifications/{unread.pk}/read/").status_code == 405


def test_anonymous_visitors_cannot_mark_read(client, owner):
    unread = entry(owner, "BTC above 30000")

    assert client.post(f"/notifications/{unread.pk}/read/").status_code == 302
    unread.refresh_from_db()
    assert unread.is_unread


def test_mark_all_read_touches_only_the_users_entries(client, owner, stranger):
    entry(owner, "one")
    entry(owner, "two")
    theirs = entry(stranger, "theirs")
    client.force_login(owner)

    client.post("/notifications/read-all/")

    assert not InAppNotification.objects.filter(user=owner).unread().exists()
    theirs.refresh_from_db()
    assert theirs.is_unread


def test_the_badge_shows_on_other_pages(client, owner):
    entry(owner, "one")
    client.force_login(owner)

    page = client.get("/notifications/settings/")

    assert page.context["unread_notifications_count"] == 1
    assert 'id="unread-notifications"' in page.content.decode()


def test_failed_deliveries_are_shown_to_their_owner_only(client, owner, stranger, fire):
    from notifications.models import Delivery

    [delivery] = fire(owner)
    Delivery.objects.filter(pk=delivery.pk).update(
        status="failed", last_error="permanent: 550 mailbox unavailable"
    )
    client.force_login(stranger)
    assert "mailbox unavailable" not in client.get("/notifications/").content.decode()
    client.force_login(owner)
    assert "mailbox unavailable" in client.get("/notifications/").content.decode()
