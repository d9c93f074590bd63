"""In an outage, pages and the socket say what is true: who is unreachable, since when, why,
and how old the prices shown are; never that no coins are tracked."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from prices import live
from prices.models import FeedState
from prices.tests.coins import priced_coin

pytestmark = pytest.mark.django_db

OFFLINE = (
    "no /coins/markets page could be read: page 1 of 1: CoinGecko /coins/markets: "
    "connection failed (ConnectError: [Errno -3] Temporary failure in name resolution) "
    "(3 attempts)"
)


def failing_feed(failures: int = 4, good_poll_ago: timedelta | None = None) -> FeedState:
    now = timezone.now()
    return FeedState.objects.create(
        name=settings.PRICE_SOURCE,
        last_success_at=now - good_poll_ago if good_poll_ago else None,
        last_attempt_at=now,
        consecutive_failures=failures,
        last_error=OFFLINE,
    )


def test_an_unreachable_feed_with_no_prices_yet_says_so_not_that_no_coins_are_tracked(client):
    failing_feed()

    html = client.get("/").content.decode()

    assert "<strong>CoinGecko unreachable</strong>: connection failed." in html
    assert "No poll has succeeded yet." in html
    assert "No prices to show yet: CoinGecko is unreachable" in html
    assert "TRACKED_COINS" not in html
    assert "has not completed a poll" not in html


def test_an_outage_after_good_polls_says_since_when_and_how_old_the_prices_shown_are(client):
    coin = priced_coin("bitcoin")
    type(coin).objects.filter(pk=coin.pk).update(
        price_updated_at=timezone.now() - timedelta(minutes=12)
    )
    failing_feed(good_poll_ago=timedelta(minutes=10))

    html = client.get("/").content.decode()

    assert (
        "<strong>CoinGecko unreachable</strong> since the last good poll: connection failed."
        in html
    )
    assert "Last good poll <time" in html and "data-ago" in html and ">10m ago</time>" in html
    assert "Prices shown are from <time" in html and ">12m ago</time>" in html


def test_visitors_read_the_kind_of_error_and_staff_its_text(client, owner, django_user_model):
    priced_coin("bitcoin")
    failing_feed()
    staff = django_user_model.objects.create_user("staff", "staff@example.com", "pw-12345-staff")
    staff.is_staff = True
    staff.save()

    visitor_page = client.get("/").content.decode()
    client.force_login(staff)
    staff_page = client.get("/").content.decode()

    assert "Temporary failure in name resolution" not in visitor_page
    assert "Temporary failure in name resolution" in staff_page


def test_a_stale_feed_on_the_socket_says_why_and_since_when():
    priced_coin("bitcoin")
    state = failing_feed(good_poll_ago=timedelta(minutes=10))

    feed = live.feed_status()

    assert feed["stale"] is True
    assert (feed["source"], feed["failures"], feed["problem"]) == (
        "CoinGecko",
        4,
        "connection failed",
    )
    assert feed["last_success_at"] == state.last_success_at.isoformat()
    assert feed["prices_from"] is not None
    assert "name resolution" not in str(feed)


def test_a_fresh_feed_on_the_socket_carries_no_details():
    FeedState.objects.create(name=settings.PRICE_SOURCE, last_success_at=timezone.now())

    assert live.feed_status() == {"stale": False, "simulated": False}


@pytest.mark.parametrize(
    ("error", "problem"),
    [
        (OFFLINE, "connection failed"),
        ("CoinGecko /coins/markets: timed out (ReadTimeout) (3 attempts)", "timed out"),
        ("CoinGecko /coins/markets: HTTP 503 (3 attempts)", "HTTP 503"),
        (
            "CoinGecko /coins/markets: rate limited (HTTP 429) (1 attempt)",
            "rate limited (HTTP 429)",
        ),
        ("1 of 2 /coins/markets pages failed, 250 coins not updated: x", "answered in part"),
        ("something new", "failed"),
    ],
)
def test_each_feed_error_has_a_kind_anyone_may_read(error, problem):
    assert live.feed_problem(error) == problem
