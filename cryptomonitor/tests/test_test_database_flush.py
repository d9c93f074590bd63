"""The suite's flush after a transactional test (tests_support/fast_flush.py)."""

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection
from django.utils import timezone

from alerts.models import Alert, AlertEvent
from notifications.models import Delivery
from prices.models import Coin

pytestmark = pytest.mark.django_db(transaction=True)


def non_empty_tables() -> list[str]:
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    found = []
    with connection.cursor() as cursor:
        for table in tables:
            name = connection.ops.quote_name(table)
            cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name})")  # noqa: S608 (a table name)
            if cursor.fetchone()[0]:
                found.append(table)
    return sorted(found)


def test_every_foreign_key_is_checked_at_commit_so_deletes_may_come_in_any_order():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint"
            " WHERE contype = 'f' AND NOT (condeferrable AND condeferred)"
        )
        assert cursor.fetchall() == []


def test_a_flush_commits_and_leaves_only_what_post_migrate_makes_again(owner):
    coin = Coin.objects.create(coingecko_id="bitcoin", symbol="btc", name="Bitcoin")
    alert = Alert.objects.create(user=owner, coin=coin, condition="above", target=Decimal(1))
    event = AlertEvent.objects.create(
        alert=alert, coin=coin, price=Decimal(2), reason="above 1", triggered_at=timezone.now()
    )
    Delivery.objects.create(user=owner, event=event, channel="email")

    call_command("flush", interactive=False, verbosity=0)

    assert connection.ops.sql_flush(no_style(), ["prices_coin"])[0].startswith("DELETE FROM")
    assert non_empty_tables() == ["auth_permission", "django_content_type"]
