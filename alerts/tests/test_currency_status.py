"""The banner on alert pages when active alerts wait for their currency's exchange rate."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Profile
from alerts.currency_status import paused_currencies
from alerts.models import Status
from alerts.tests.currencies import set_rate

pytestmark = pytest.mark.django_db

FETCHED = timezone.now().replace(microsecond=0) - timedelta(days=2)


def banner(body: str) -> str:
    start = body.index('data-paused-currency="')
    return body[start : body.index("</p>", start)]


def test_the_alert_list_says_alerts_in_a_stale_currency_are_paused_in_effect(
    client, owner, make_alert
):
    set_rate("eur", fetched_at=FETCHED)
    make_alert(currency="eur")
    Profile.objects.update_or_create(user=owner, defaults={"time_zone": "UTC"})
    client.force_login(owner)

    text = banner(client.get(reverse("alerts:list")).content.decode())

    assert "Your alerts in EUR are paused in effect: the EUR exchange rate is out of date" in text
    assert f'(last fetched <time datetime="{FETCHED.isoformat()}">' in text
    assert "they are evaluated again as soon as a fresh rate arrives." in text


def test_the_banner_says_when_no_rate_was_ever_fetched(client, owner, make_alert):
    make_alert(currency="gbp")
    client.force_login(owner)

    text = banner(client.get(reverse("alerts:list")).content.decode())

    assert "Your alerts in GBP are paused in effect: no GBP exchange rate has been fetched" in text


@pytest.mark.parametrize("page", ["detail", "edit", "create"])
def test_the_other_alert_pages_show_the_banner_too(client, owner, make_alert, page):
    alert = make_alert(currency="gbp")
    client.force_login(owner)
    args = [] if page == "create" else [alert.pk]
    url = reverse(f"alerts:{page}", args=args)

    assert 'data-paused-currency="gbp"' in client.get(url).content.decode()


def test_alerts_in_a_currency_with_a_fresh_rate_are_not_paused(owner, make_alert):
    set_rate("eur")
    make_alert(currency="eur")

    assert paused_currencies(owner) == []


def test_a_paused_alert_in_a_stale_currency_does_not_count(owner, make_alert):
    make_alert(currency="gbp", status=Status.PAUSED)

    assert paused_currencies(owner) == []


def test_another_users_alerts_do_not_count(owner, stranger, make_alert):
    make_alert(currency="gbp", user=stranger)

    assert paused_currencies(owner) == []


def test_the_paused_currencies_are_found_in_one_query(owner, make_alert, django_assert_num_queries):
    set_rate("eur", fetched_at=FETCHED)
    make_alert(currency="eur")
    make_alert(currency="eur")
    make_alert(currency="gbp")
    make_alert()  # the base

    with django_assert_num_queries(1):
        found = paused_currencies(owner)

    assert [(p.currency, p.fetched_at) for p in found] == [("eur", FETCHED), ("gbp", None)]


def test_a_currency_no_longer_offered_counts_as_paused(owner, make_alert, settings):
    set_rate("chf")
    make_alert(currency="chf")
    settings.DISPLAY_CURRENCIES = ["usd", "eur"]

    (found,) = paused_currencies(owner)

    assert (found.currency, found.offered) == ("chf", False)
