"""A fired alert's rows go with its owner or coin, though two links have no database check.

AlertEvent.coin and Delivery.user carry no database constraint (the
evaluator copies both from the alert row it holds locked): Django's
on_delete must still remove them.
"""

import pytest

from alerts.models import AlertEvent, Condition
from notifications.models import Delivery

pytestmark = pytest.mark.django_db


def test_deleting_the_owner_deletes_the_events_and_their_deliveries(feed, make_alert, owner):
    make_alert(Condition.ABOVE)
    feed.tick("30010")

    owner.delete()

    assert not AlertEvent.objects.exists()
    assert not Delivery.objects.exists()


def test_deleting_the_coin_deletes_its_events_and_their_deliveries(feed, make_alert):
    make_alert(Condition.ABOVE)
    feed.tick("30010")

    feed.coin.delete()

    assert not AlertEvent.objects.exists()
    assert not Delivery.objects.exists()
