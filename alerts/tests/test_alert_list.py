"""The alert list: each coin's price now, how far each alert is, and the inline buttons."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from alerts.models import Alert
from prices.models import Coin, PriceSource, PriceTick

pytestmark = pytest.mark.django_db

LIST = "/alerts/"


def row_of(body: str, alert: Alert) -> str:
    match = re.search(rf'<tr data-alert-id="{alert.pk}".*?</tr>', body, re.DOTALL)
    assert match, f"no row for alert {alert.pk}"
    return match.group(0)


def listed(client, owner, alert: Alert) -> str:
    client.force_login(owner)
    return row_of(client.get(LIST).content.decode(), alert)


def test_a_price_alert_shows_the_price_now_and_the_distance_up_to_its_target(
    client, owner, make_alert
):
    alert = make_alert(target=Decimal("35000"))

    row = listed(client, owner, alert)

    assert 'data-field="price">$30,000.00<' in row
    assert "+16.67%" in row
    assert "(+$5,000.00)" in row


def test_a_target_below_the_price_is_a_negative_distance(client, owner, make_alert):
    alert = make_alert(condition="below", target=Decimal("27000"))

    row = listed(client, owner, alert)

    assert "-10.00%" in row
    assert "(-$3,000.00)" in row


def test_the_distance_is_from_the_price_stored_when_the_page_loads(
    client, owner, make_alert, bitcoin
):
    alert = make_alert(condition="crosses", target=Decimal("35000"))
    Coin.objects.filter(pk=bitcoin.pk).update(price=Decimal("25000"))

    row = listed(client, owner, alert)

    assert 'data-field="price">$25,000.00<' in row
    assert "+40.00%" in row
    assert "(+$10,000.00)" in row


def test_a_movement_alert_shows_the_move_so_far_within_its_window(
    client, owner, make_alert, bitcoin
):
    alert = make_alert(condition="pct_up", window="1h")
    now = bitcoin.price_updated_at
    for minutes, price in ((90, "20000"), (40, "28000"), (10, "29000")):
        PriceTick.objects.create(
            coin=bitcoin,
            time=now - timedelta(minutes=minutes),
            price=Decimal(price),
            source=PriceSource.COINGECKO,
        )

    row = listed(client, owner, alert)

    # Against the window's first tick (28000), as the evaluator measures it.
    assert "+7.14%" in row
    assert "(+$2,000.00)" in row
    assert 'data-label="Moved in 1 hour"' in row


def test_a_movement_alert_without_a_price_in_its_window_shows_a_dash(client, owner, make_alert):
    alert = make_alert(condition="pct_move", window="5m")

    row = listed(client, owner, alert)

    assert '<span class="muted">—</span>' in row
    assert "%" not in row.split('class="number alert-distance">')[1].split("</td>")[0]


def test_a_coin_without_a_price_shows_dashes(client, owner, make_alert, bitcoin):
    Coin.objects.filter(pk=bitcoin.pk).update(price=None, price_updated_at=None)
    alert = make_alert(target=Decimal("35000"))

    row = listed(client, owner, alert)

    assert 'data-field="price">—<' in row
    assert '<span class="muted">—</span>' in row


def test_the_list_subscribes_its_socket_to_its_alerts_coins(client, owner, make_alert):
    make_alert()
    client.force_login(owner)

    body = client.get(LIST).content.decode()

    assert 'data-subscribe="bitcoin"' in body
    assert "js/alert_list.js" in body


def test_each_row_offers_the_buttons_its_status_allows(client, owner, make_alert):
    active = make_alert()
    paused = make_alert(status="paused")
    triggered = make_alert(status="triggered")
    expired = make_alert(status="expired")
    client.force_login(owner)

    body = client.get(LIST).content.decode()

    def buttons(alert: Alert) -> list[str]:
        return re.findall(r'<button type="submit"[^>]*>([^<]+)<', row_of(body, alert))

    assert buttons(active) == ["Pause", "Delete"]
    assert buttons(paused) == ["Resume", "Delete"]
    assert buttons(triggered) == ["Re-arm", "Delete"]
    assert buttons(expired) == ["Delete"]


def test_the_inline_forms_carry_a_csrf_token_that_the_server_accepts(owner, make_alert):
    alert = make_alert()
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    row = row_of(client.get(LIST + "?status=active").content.decode(), alert)
    pause = re.search(r'<form method="post" action="([^"]+/pause/)">(.*?)</form>', row, re.DOTALL)
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', pause.group(2)))

    response = client.post(pause.group(1), fields)

    assert response.status_code == 302
    assert response["Location"] == LIST + "?status=active"
    alert.refresh_from_db()
    assert alert.status == "paused"


def test_resume_from_the_list_returns_to_the_list(client, owner, make_alert):
    alert = make_alert(status="paused")
    client.force_login(owner)

    response = client.post(reverse("alerts:resume", args=[alert.pk]), {"next": LIST}, follow=True)

    assert response.redirect_chain == [(LIST, 302)]
    assert "Alert resumed" in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "active"


def test_a_next_to_another_site_goes_to_the_alerts_page_instead(client, owner, make_alert):
    alert = make_alert()
    client.force_login(owner)

    response = client.post(
        reverse("alerts:pause", args=[alert.pk]), {"next": "https://evil.example/alerts/"}
    )

    assert response["Location"] == alert.get_absolute_url()


def test_an_inline_delete_without_javascript_asks_on_the_confirmation_page(
    client, owner, make_alert
):
    alert = make_alert()
    client.force_login(owner)
    url = reverse("alerts:delete", args=[alert.pk])

    asked = client.post(url, {"ask_first": "1", "next": LIST + "?status=active"})

    body = asked.content.decode()
    assert asked.status_code == 200
    assert "Delete this alert?" in body
    assert '<input type="hidden" name="next" value="/alerts/?status=active">' in body
    assert Alert.objects.filter(pk=alert.pk).exists()
    deleted = client.post(url, {"next": LIST + "?status=active"})
    assert deleted["Location"] == LIST + "?status=active"
    assert not Alert.objects.filter(pk=alert.pk).exists()


def test_a_stranger_cannot_use_the_inline_buttons_on_an_alert(client, stranger, make_alert):
    alert = make_alert()
    client.force_login(stranger)

    for action, data in (
        ("pause", {"next": LIST}),
        ("resume", {"next": LIST}),
        ("delete", {"next": LIST, "ask_first": "1"}),
        ("delete", {"next": LIST}),
    ):
        assert client.post(reverse(f"alerts:{action}", args=[alert.pk]), data).status_code == 404
    assert Alert.objects.get(pk=alert.pk).status == "active"
