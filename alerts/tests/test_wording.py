"""The words people read agree between the form, the API and the pages."""

import pytest
from django.urls import reverse

from alerts.models import UNKNOWN_COIN_MESSAGE
from alerts.tests.test_api_alerts import error_fields, post

pytestmark = pytest.mark.django_db


def test_the_api_refuses_an_unknown_coin_in_the_forms_words(owner_api, client, owner, bitcoin):
    client.force_login(owner)

    api = error_fields(post(owner_api, coin="no-such-coin"))["coin"]
    form = client.post(reverse("alerts:create"), {"coin": "no-such-coin"}).content.decode()

    assert api == ["Choose a coin CryptoMonitor tracks."] == [UNKNOWN_COIN_MESSAGE]
    assert UNKNOWN_COIN_MESSAGE in form
