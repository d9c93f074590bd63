"""The API answers in UTC whoever calls; pages use the caller's profile zone (docs/api.md)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiToken, Profile
from prices.tests.coins import priced_coin
from prices.watchlists import watch

pytestmark = pytest.mark.django_db


@pytest.fixture
def berliner(owner):
    profile = Profile.for_user(owner)
    profile.time_zone = "Europe/Berlin"
    profile.save()
    watch(owner, priced_coin("bitcoin", ("27000", "27100")))
    return owner


def test_a_session_caller_gets_the_same_utc_times_as_a_token_caller(berliner, owner_api):
    session = APIClient()
    session.force_login(berliner)

    by_session = session.get("/api/v1/watchlist/").json()
    by_token = owner_api.get("/api/v1/watchlist/").json()

    assert by_session == by_token
    [entry] = by_session["results"]
    for written in (entry["created_at"], entry["snapshot"]["updated_at"]):
        assert datetime.fromisoformat(written).utcoffset() == timedelta(0), written


def test_pages_still_show_the_profiles_zone(berliner, client):
    ApiToken.issue(berliner, "laptop")
    client.force_login(berliner)

    page = client.get("/account/tokens/").content.decode()

    [shown] = re.findall(r'<time datetime="([^"]+)"', page)
    assert datetime.fromisoformat(shown).utcoffset() in (timedelta(hours=1), timedelta(hours=2))
