"""Columns added after release insert without being named (old code, a raw COPY)."""

import pytest
from django.db import connection
from django.utils import timezone

from alerts.models import Alert

pytestmark = pytest.mark.django_db


def test_an_insert_that_does_not_name_expired_from_leaves_it_blank(owner, bitcoin):
    # The INSERT of the code before alerts 0005, as after a rollback of the code.
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO alerts_alert (user_id, coin_id, condition, target, "window", note, '
            "frequency, cooldown_seconds, channels, status, armed, created_at, updated_at) "
            "VALUES (%s, %s, 'above', 30000, '', '', 'once', 3600, '[\"email\"]', 'active', "
            "true, %s, %s)",
            [owner.pk, bitcoin.pk, now, now],
        )

    assert Alert.objects.get().expired_from == ""
