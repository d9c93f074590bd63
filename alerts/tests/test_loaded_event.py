"""What _loaded_event relies on to build AlertEvents without Model.__init__."""

from django.db.models.signals import post_init

from alerts.claiming import _EVENT_FIELDS
from alerts.models import AlertEvent


def test_no_post_init_receiver_listens_to_alert_events():
    # _loaded_event skips Model.__init__, so it would skip such a receiver too.
    assert not post_init.has_listeners(AlertEvent)


def test_the_loaded_fields_are_every_concrete_field_of_alert_event():
    # A new field would be missing from every event the evaluator returns.
    assert [field.attname for field in AlertEvent._meta.concrete_fields] == _EVENT_FIELDS
