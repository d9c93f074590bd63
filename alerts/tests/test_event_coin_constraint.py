"""An event keeps the coin it fired on, and the database holds it to an existing coin."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from prices.models import Coin


@pytest.mark.django_db
def test_a_coin_still_named_by_an_event_of_an_edited_alert_cannot_be_deleted_raw(make_alert):
    alert = make_alert()
    fired_on = alert.coin
    AlertEvent.objects.create(
        alert=alert, coin=fired_on, price=Decimal(1), reason="r", triggered_at=timezone.now()
    )
    alert.coin = Coin.objects.create(coingecko_id="y", symbol="y", name="Y", is_tracked=True)
    alert.save_edit()

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM prices_coin WHERE id = %s", [fired_on.pk])

    assert Alert.objects.get().events.get().coin_id == fired_on.pk
