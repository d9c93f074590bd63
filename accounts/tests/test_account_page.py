import pytest

from accounts.models import Profile

pytestmark = pytest.mark.django_db


def test_it_sends_anonymous_visitors_to_log_in(client):
    response = client.get("/account/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_creates_the_profile_on_first_visit(client, owner):
    client.force_login(owner)

    response = client.get("/account/")

    assert response.status_code == 200
    assert Profile.objects.get(user=owner).time_zone == "UTC"
    html = response.content.decode()
    assert 'href="/account/tokens/"' in html
    assert 'href="/notifications/settings/"' in html


def test_it_saves_the_notification_email_and_time_zone(client, owner):
    client.force_login(owner)

    response = client.post(
        "/account/", {"notification_email": "alerts@alice.test", "time_zone": "Europe/Berlin"}
    )

    assert response.status_code == 302
    profile = Profile.objects.get(user=owner)
    assert (profile.notification_email, profile.time_zone) == ("alerts@alice.test", "Europe/Berlin")


def test_it_allows_a_blank_notification_email(client, owner):
    client.force_login(owner)

    client.post("/account/", {"notification_email": "", "time_zone": "UTC"})

    assert Profile.objects.get(user=owner).alert_email == "alice@example.com"


def test_it_rejects_an_unknown_time_zone(client, owner):
    client.force_login(owner)

    response = client.post("/account/", {"notification_email": "", "time_zone": "Mars/Olympus"})

    assert response.status_code == 400
    assert "Mars/Olympus is not one of the available choices" in response.content.decode()
    assert Profile.objects.get(user=owner).time_zone == "UTC"


def test_it_rejects_a_malformed_email_and_keeps_the_old_one(client, owner):
    Profile.objects.create(user=owner, notification_email="old@alice.test")
    client.force_login(owner)

    response = client.post(
        "/account/", {"notification_email": "not-an-email", "time_zone": "Asia/Tokyo"}
    )

    assert response.status_code == 400
    profile = Profile.objects.get(user=owner)
    assert (profile.notification_email, profile.time_zone) == ("old@alice.test", "UTC")


def test_a_stranger_sees_and_edits_only_their_own_profile(client, owner, stranger):
    Profile.objects.create(user=owner, notification_email="secret@alice.test")
    client.force_login(stranger)

    page = client.get("/account/").content.decode()
    client.post("/account/", {"notification_email": "x@mallory.test", "time_zone": "UTC"})

    assert "secret@alice.test" not in page
    assert Profile.objects.get(user=owner).notification_email == "secret@alice.test"
    assert Profile.objects.get(user=stranger).notification_email == "x@mallory.test"
