"""The web_push channel against a real local push service: encryption, VAPID, outcomes."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.utils import timezone

from notifications import push
from notifications.checks import vapid_keys_usable
from notifications.delivery import USER_SENDS_IN_FLIGHT, deliver, send_test_notifications
from notifications.models import Delivery, DeliveryStatus, PushSubscription, VapidKey
from notifications.tests.push_service import Browser, PushService
from notifications.transports.web_push import Outcome, WebPushTransport

pytestmark = pytest.mark.django_db


@pytest.fixture
def local(settings):
    settings.OUTBOUND_ALLOW_PRIVATE_IPS = True  # the push service listens on 127.0.0.1


def subscribed(user, service: PushService, browser_name: str = "Firefox on Linux") -> Browser:
    browser = service.new_browser()
    info = browser.subscription()
    PushSubscription.objects.create(
        user=user,
        endpoint=info["endpoint"],
        p256dh=info["keys"]["p256dh"],
        auth=info["keys"]["auth"],
        browser=browser_name,
    )
    return browser


def test_a_fired_alert_reaches_every_browser_of_its_owner_encrypted_and_signed(
    local, owner, fire, push_service
):
    phone, laptop = subscribed(owner, push_service), subscribed(owner, push_service)
    push_service.expected_vapid_key = push.public_key()
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    pushes = push_service.accepted()
    assert {p.browser.endpoint for p in pushes} == {phone.endpoint, laptop.endpoint}
    assert push_service.problems == []
    for sent in pushes:
        assert sent.signature_valid
        assert sent.claims["aud"] == push_service.url
        assert sent.claims["sub"] == "mailto:alerts@localhost"
        assert sent.claims["exp"] > timezone.now().timestamp()
        assert sent.headers["TTL"] == "600"
        assert sent.headers["Urgency"] == "high"
        assert sent.message["title"].startswith("BTC price is at or above 30000")
        assert sent.message["body"].startswith("Bitcoin: ")
        assert sent.message["url"] == f"/alerts/{delivery.event.alert_id}/"
        assert sent.message["tag"] == f"cryptomonitor-delivery-{delivery.pk}"
    assert PushSubscription.objects.filter(last_success_at__isnull=False).count() == 2


def test_a_browser_that_is_gone_loses_its_subscription_and_the_others_still_get_it(
    local, owner, fire, push_service
):
    gone, kept = subscribed(owner, push_service), subscribed(owner, push_service)
    gone.script = [410]
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert list(PushSubscription.objects.values_list("endpoint", flat=True)) == [kept.endpoint]


def test_when_every_browser_is_gone_the_delivery_fails_for_good(local, owner, fire, push_service):
    subscribed(owner, push_service).script = [404]
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "no longer accepts push (HTTP 404)" in delivery.last_error
    assert not PushSubscription.objects.exists()


def test_a_push_service_error_is_retried_and_the_browser_kept(local, owner, fire, push_service):
    subscribed(owner, push_service).script = [500]
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    delivery.refresh_from_db()
    assert delivery.next_attempt_at is not None
    assert "answered HTTP 500; will retry" in delivery.last_error
    assert PushSubscription.objects.get().last_success_at is None
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["next_attempt_at"])
    assert deliver(delivery.pk) == DeliveryStatus.SENT
    assert len(push_service.accepted()) == 1


def test_one_failure_that_may_pass_retries_even_if_another_browser_refused_for_good(
    local, owner, fire, push_service
):
    subscribed(owner, push_service).script = [403]
    subscribed(owner, push_service).script = [503]
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING


def test_a_private_push_service_is_refused_without_the_opt_in(owner, fire, push_service):
    subscribed(owner, push_service)
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert "127.0.0.1 is a loopback address" in delivery.last_error
    assert "OUTBOUND_ALLOW_PRIVATE_IPS=True" in delivery.last_error
    assert push_service.pushes == []
    assert PushSubscription.objects.exists()


def test_a_user_without_a_browser_is_told_to_enable_push(owner, fire):
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.FAILED

    delivery.refresh_from_db()
    assert delivery.last_error.startswith("permanent: no browser has push enabled")


def test_a_push_is_sent_only_to_the_owners_browsers(local, owner, stranger, fire, push_service):
    subscribed(stranger, push_service)
    mine = subscribed(owner, push_service)
    [delivery] = fire(owner, channels=["web_push"])

    deliver(delivery.pk)

    assert [p.browser.endpoint for p in push_service.pushes] == [mine.endpoint]


def test_without_keys_in_the_environment_one_pair_is_generated_and_kept(settings):
    settings.VAPID_PRIVATE_KEY = settings.VAPID_PUBLIC_KEY = ""

    first = push.public_key()
    push.forget_key_pair()

    assert push.public_key() == first
    assert VapidKey.objects.get().public_key == first


def test_keys_from_the_environment_sign_the_pushes(local, settings, owner, fire, push_service):
    private, public = push.new_key_pair()
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = private, public
    push_service.expected_vapid_key = public
    subscribed(owner, push_service)
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    assert push_service.accepted()[0].signature_valid
    assert not VapidKey.objects.exists()


def test_mismatched_keys_in_the_environment_stop_the_start(settings):
    settings.VAPID_PRIVATE_KEY = push.new_key_pair()[0]
    settings.VAPID_PUBLIC_KEY = push.new_key_pair()[1]

    [error] = vapid_keys_usable(None)

    assert error.id == "notifications.E001"
    assert "VAPID_PUBLIC_KEY is not the public key of VAPID_PRIVATE_KEY" in error.msg
    with pytest.raises(ImproperlyConfigured):
        push.public_key()


def test_one_key_without_the_other_stops_the_start(settings):
    settings.VAPID_PRIVATE_KEY = push.new_key_pair()[0]

    [error] = vapid_keys_usable(None)

    assert "Set both VAPID_PRIVATE_KEY and VAPID_PUBLIC_KEY, or neither" in error.msg


def test_the_system_check_passes_without_keys_or_with_a_matching_pair(settings):
    assert vapid_keys_usable(None) == []
    settings.VAPID_PRIVATE_KEY, settings.VAPID_PUBLIC_KEY = push.new_key_pair()
    assert vapid_keys_usable(None) == []


def test_a_push_over_the_users_sends_in_flight_is_handed_back_unsent(
    local, owner, fire, push_service
):
    subscribed(owner, push_service)
    for number in range(USER_SENDS_IN_FLIGHT):  # the user's other sends hold every slot
        cache.add(f"notifications:send-slot:{owner.pk}:{number}", "another send", timeout=30)
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    delivery.refresh_from_db()
    assert delivery.attempts == 0
    assert push_service.pushes == []


def test_a_push_service_that_never_answers_is_retried_after_the_send_deadline(
    local, settings, owner, fire, tarpit
):
    settings.OUTBOUND_TIMEOUT_SECONDS = 0.3
    keys = Browser(endpoint=tarpit.url).subscription()["keys"]
    PushSubscription.objects.create(
        user=owner, endpoint=tarpit.url, browser="Firefox on Linux", **keys
    )
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING

    delivery.refresh_from_db()
    assert delivery.last_error.startswith("Firefox on Linux: ")
    assert "did not answer within 0.3 s" in delivery.last_error
    # The endpoint is a capability URL: its host is named, never its path.
    assert "/hook" not in delivery.last_error


def test_the_command_prints_the_pair_in_use_for_the_environment(settings):
    stored = push.key_pair()
    out = StringIO()

    call_command("vapid_keys", stdout=out)

    assert out.getvalue() == f"VAPID_PRIVATE_KEY={stored[0]}\nVAPID_PUBLIC_KEY={stored[1]}\n"
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    settings.VAPID_PRIVATE_KEY = lines["VAPID_PRIVATE_KEY"]
    settings.VAPID_PUBLIC_KEY = lines["VAPID_PUBLIC_KEY"]
    assert vapid_keys_usable(None) == []
    assert push.public_key() == stored[1]


def test_the_command_makes_a_new_pair_without_storing_it():
    out = StringIO()

    call_command("vapid_keys", "--new", stdout=out)

    assert "VAPID_PUBLIC_KEY=B" in out.getvalue()
    assert not VapidKey.objects.exists()


def test_a_test_send_pushes_the_test_message_to_the_settings_page(local, owner, push_service):
    subscribed(owner, push_service)
    [delivery] = send_test_notifications(owner, ["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.SENT

    [sent] = push_service.accepted()
    assert sent.message["title"] == "CryptoMonitor test notification"
    assert sent.message["body"].startswith("This is a test")
    assert sent.message["url"] == "/notifications/settings/"


def test_a_browser_that_subscribed_again_during_the_send_keeps_its_new_subscription(
    owner, push_service
):
    browser = subscribed(owner, push_service)
    sent_to = PushSubscription.objects.get()
    fresh = Browser(endpoint=browser.endpoint).subscription()["keys"]  # new keys
    PushSubscription.objects.filter(pk=sent_to.pk).update(
        p256dh=fresh["p256dh"], auth=fresh["auth"]
    )

    WebPushTransport._record([Outcome(sent_to, status=410)])

    assert PushSubscription.objects.get().p256dh == fresh["p256dh"]


def test_a_browser_whose_service_failed_gets_the_alert_on_the_retry_though_another_had_it(
    local, owner, fire, push_service
):
    failing, fine = subscribed(owner, push_service), subscribed(owner, push_service)
    failing.script = [503]
    [delivery] = fire(owner, channels=["web_push"])

    assert deliver(delivery.pk) == DeliveryStatus.PENDING
    Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliver(delivery.pk) == DeliveryStatus.SENT

    tags = {}
    for sent in push_service.accepted():
        tags.setdefault(sent.browser.endpoint, []).append(sent.message["tag"])
    tag = f"cryptomonitor-delivery-{delivery.pk}"
    # The one that had it got it again under the same tag: shown once.
    assert tags == {failing.endpoint: [tag], fine.endpoint: [tag, tag]}
