"""The popup sound: a user setting, off until the user turns it on."""

from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from notifications.models import NotificationSettings

pytestmark = pytest.mark.django_db

SOUND = 'data-popup-sound="/static/sounds/alert.wav"'


def test_pages_play_no_sound_until_the_user_asks(client, owner):
    client.force_login(owner)

    assert SOUND not in client.get("/").content.decode()
    assert NotificationSettings.for_user(owner).popup_sound is False


def test_the_settings_page_turns_the_sound_on_for_the_users_pages(client, owner, stranger):
    client.force_login(owner)

    client.post("/notifications/settings/", {"popup_sound": "on"})

    assert NotificationSettings.for_user(owner).popup_sound is True
    assert SOUND in client.get("/").content.decode()
    client.force_login(stranger)
    assert SOUND not in client.get("/").content.decode()


def test_the_sound_ships_with_the_app_not_from_a_cdn():
    path = finders.find("sounds/alert.wav")

    assert path is not None
    assert Path(path).read_bytes()[:4] == b"RIFF"
