"""The active cap under concurrency: two requests at once cannot both pass it.

Real threads, each on its own PostgreSQL connection: the first holds its
transaction open after its write, so without the cap lock the second would
count before that commit and pass the cap too.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from alerts.models import Alert, Status
from tests_support.cap_races import race

pytestmark = pytest.mark.django_db(transaction=True)


def new_alert(owner, coin) -> Alert:
    return Alert(user=owner, coin=coin, condition="above", target=Decimal("40000"))


def test_two_alerts_created_at_once_at_the_cap_let_only_one_in(owner, bitcoin, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1

    outcomes = race(new_alert(owner, bitcoin).save_edit, new_alert(owner, bitcoin).save_edit)

    assert outcomes[1] == "saved"
    assert outcomes[0].startswith("You already have 1 active alerts, the most allowed")
    assert Alert.objects.filter(user=owner, status=Status.ACTIVE).count() == 1


def test_a_resume_racing_a_create_at_the_cap_lets_only_one_in(owner, bitcoin, settings):
    settings.ALERTS_MAX_ACTIVE_PER_USER = 1
    paused = Alert.objects.create(
        user=owner, coin=bitcoin, condition="below", target=Decimal("20000"), status="paused"
    )

    outcomes = race(new_alert(owner, bitcoin).save_edit, paused.resume)

    assert outcomes[1] == "saved"
    assert Alert.objects.filter(user=owner, status=Status.ACTIVE).count() == 1
