from decimal import Decimal

import pytest

from alerts.models import Alert, Condition
from prices.models import WatchlistEntry
from prices.tests.coins import priced_coin

pytestmark = pytest.mark.django_db


def make_alert(user, coin, target: str) -> Alert:
    return Alert.objects.create(
        user=user, coin=coin, condition=Condition.ABOVE, target=Decimal(target)
    )


def test_it_returns_404_for_an_unknown_coin(client):
    assert client.get("/coins/no-such-coin/").status_code == 404


def test_it_shows_the_price_and_stats_to_anonymous_visitors(client):
    coin = priced_coin("bitcoin", ("27000", "27500"), market_cap_rank=1)

    response = client.get(coin.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-coin="bitcoin" data-field="price">$27,500.00<' in html
    assert 'data-coin="bitcoin" data-field="market_cap">$500.00B<' in html
    assert 'data-coin="bitcoin" data-field="volume_24h">$12.00B<' in html
    assert "Log in</a> to set price alerts" in html


def test_it_narrows_the_live_stream_to_this_coin(client):
    coin = priced_coin("bitcoin")

    assert 'data-subscribe="bitcoin"' in client.get(coin.get_absolute_url()).content.decode()


def test_it_offers_every_chart_range(client):
    coin = priced_coin("bitcoin")

    html = client.get(coin.get_absolute_url()).content.decode()

    for range_key in ("1h", "24h", "7d", "30d", "1y", "all"):
        assert f'data-range="{range_key}"' in html
    assert "lightweight-charts.standalone.production.js" in html


def test_it_lists_the_owners_alerts_for_this_coin(client, owner):
    bitcoin = priced_coin("bitcoin")
    ethereum = priced_coin("ethereum")
    mine = make_alert(owner, bitcoin, "30000")
    other_coin = make_alert(owner, ethereum, "2000")
    client.force_login(owner)

    response = client.get(bitcoin.get_absolute_url())

    assert [alert.coin_id for alert in response.context["alerts"]] == [bitcoin.pk]
    html = response.content.decode()
    assert mine.describe() in html
    assert other_coin.describe() not in html
    assert 'href="/alerts/new/?coin=bitcoin"' in html


def test_it_hides_the_owners_alerts_from_a_stranger(client, owner, stranger):
    bitcoin = priced_coin("bitcoin")
    alert = make_alert(owner, bitcoin, "30000")
    client.force_login(stranger)

    response = client.get(bitcoin.get_absolute_url())

    assert response.context["alerts"] == []
    assert alert.describe() not in response.content.decode()


def test_it_shows_whether_the_user_watches_the_coin(client, owner):
    bitcoin = priced_coin("bitcoin")
    WatchlistEntry.objects.create(user=owner, coin=bitcoin)
    client.force_login(owner)

    assert client.get(bitcoin.get_absolute_url()).context["watched"] is True


def test_its_404_page_uses_the_site_layout(client, settings):
    settings.DEBUG = False

    response = client.get("/coins/no-such-coin/")

    assert response.status_code == 404
    assert 'id="connection-status"' in response.content.decode()
