"""A delivery's user is held by the database: nothing else pins it."""

import pytest
from django.db import IntegrityError, connection, transaction

from notifications.models import Delivery


@pytest.mark.django_db
def test_a_user_with_a_test_delivery_cannot_be_deleted_raw(django_user_model):
    user = django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-12345")
    Delivery.objects.create(user=user, channel="in_app")

    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("DELETE FROM auth_user WHERE id = %s", [user.pk])

    assert Delivery.objects.get().user_id == user.pk
