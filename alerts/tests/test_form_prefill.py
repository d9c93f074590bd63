"""The new-alert form prefilled from a link's query: coin, condition, target.

The coin page's chart sends people here; anyone can write a query string, so
each value is validated and a bad one is simply not prefilled.
"""

from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def form(client, **query):
    response = client.get(reverse("alerts:create"), query)
    assert response.status_code == 200
    return response.context["form"], response.content.decode()


def test_the_form_is_prefilled_with_coin_condition_and_target(client, owner, bitcoin):
    client.force_login(owner)

    prefilled, body = form(client, coin="bitcoin", condition="crosses_up", target="31250.5")

    assert prefilled.initial["coin"] == "bitcoin"
    assert prefilled.initial["condition"] == "crosses_up"
    assert prefilled.initial["target"] == Decimal("31250.5")
    assert 'value="bitcoin" selected' in body
    assert 'value="crosses_up" selected' in body
    assert 'name="target" value="31250.5"' in body


@pytest.mark.parametrize(
    "target",
    [
        *("abc", "-5", "+5", " 5", "0", "NaN", "Infinity", "1e3", "١٢"),
        *("1234567890123", "0.000000000000001", "9" * 50),  # too many digits
    ],
)
def test_a_target_the_form_would_refuse_is_not_prefilled(client, owner, bitcoin, target):
    client.force_login(owner)

    prefilled, body = form(client, coin="bitcoin", condition="above", target=target)

    assert prefilled.initial.get("target") is None
    assert prefilled.initial["coin"] == "bitcoin"
    assert 'name="target" value=' not in body


def test_an_unknown_condition_is_not_prefilled(client, owner, bitcoin):
    client.force_login(owner)

    prefilled, _ = form(client, coin="bitcoin", condition="<script>", target="35000")

    # Without a known condition the target decides, against the price (30000).
    assert prefilled.initial["condition"] == "above"


def test_without_a_condition_a_target_over_the_price_means_above(client, owner, bitcoin):
    client.force_login(owner)

    assert form(client, coin="bitcoin", target="30000.01")[0].initial["condition"] == "above"
    assert form(client, coin="bitcoin", target="30000")[0].initial["condition"] == "below"
    assert form(client, coin="bitcoin", target="29000")[0].initial["condition"] == "below"


def test_an_untracked_or_unknown_coin_is_not_prefilled(client, owner, bitcoin):
    bitcoin.is_tracked = False
    bitcoin.save()
    client.force_login(owner)

    for coin in ("bitcoin", "no-such-coin", "x" * 200):
        prefilled, body = form(client, coin=coin, target="35000")
        assert not prefilled.initial.get("coin")
        assert not prefilled.initial.get("condition")  # no price to compare with
        assert 'value="bitcoin" selected' not in body


def test_the_edit_form_ignores_the_query(client, owner, make_alert):
    alert = make_alert(target=Decimal("35000"))
    client.force_login(owner)

    response = client.get(
        reverse("alerts:edit", args=[alert.pk]), {"condition": "below", "target": "1"}
    )

    assert response.context["form"].initial["target"] == Decimal("35000")
    assert response.context["form"].initial["condition"] == "above"


def test_an_anonymous_visitor_logs_in_then_gets_the_prefilled_form(client, owner, bitcoin):
    query = {"coin": "bitcoin", "condition": "below", "target": "25000"}

    response = client.get(reverse("alerts:create"), query)

    assert response.status_code == 302
    login = urlsplit(response["Location"])
    assert login.path == reverse("account_login")
    next_url = parse_qs(login.query)["next"][0]
    logged_in = client.post(
        response["Location"], {"login": "alice", "password": "pw-alice-123", "next": next_url}
    )
    assert logged_in.status_code == 302
    assert logged_in["Location"] == next_url
    prefilled = client.get(next_url).context["form"]
    prefill = {name: prefilled.initial[name] for name in ("coin", "condition", "target")}
    assert prefill == {"coin": "bitcoin", "condition": "below", "target": Decimal("25000")}
