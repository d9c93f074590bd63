"""Web Push: one encrypted message to every browser where the user enabled push.

The payload is encrypted for each browser (RFC 8291, aes128gcm) by
pywebpush and signed with our VAPID key (RFC 8292) by py_vapid; the POST to
the push service goes through `HttpTransport.exchange`, so the egress policy
and the one deadline apply as to webhooks (the endpoint is a URL a browser
gave us).

One delivery covers all the user's browsers. It is sent when at least one
push service accepted the message; a browser whose service answered 404 or
410 has unsubscribed and its subscription is deleted. When none accepted
and at least one failure may pass (a timeout, a 5xx, 429), the delivery is
retried, to every browser: each message carries the delivery's tag, so a
browser that already shows it replaces it rather than showing it twice.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.utils import timezone
from pywebpush import WebPusher

from common.structured_logs import redact_text
from notifications import push
from notifications.models import PushSubscription
from notifications.notices import Notice
from notifications.transports.base import HttpTransport, TransportError

# Pushes to one user's browsers at once; all share the send's one deadline.
PARALLEL_PUSHES = 4
GONE = (404, 410)


@dataclass
class Outcome:
    subscription: PushSubscription
    status: int | None = None
    error: TransportError | None = None

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class WebPushTransport(HttpTransport):
    channel = "web_push"

    def send(self, notice: Notice) -> None:
        subscriptions = list(PushSubscription.objects.filter(user=self.user))
        if not subscriptions:
            raise TransportError(
                "no browser has push enabled: enable it on the notification settings page",
                permanent=True,
            )
        data = push.message(notice)
        kept = push.delivery_headers(notice)
        push.key_pair()  # read here: the pool's threads touch no database
        self.in_time()
        deadline = time.monotonic() + self.timeout()
        with ThreadPoolExecutor(min(len(subscriptions), PARALLEL_PUSHES)) as pool:
            outcomes = list(pool.map(lambda s: self._push(s, data, kept, deadline), subscriptions))
        self._record(outcomes)
        # A browser whose service failed in a way that may pass gets the alert
        # on the retry too: the retry pushes to every browser again, and those
        # that showed it already replace it silently (same tag, no renotify).
        may_pass = [o for o in outcomes if o.error is not None and not o.error.permanent]
        if may_pass:
            raise _failure(may_pass)
        if not any(outcome.accepted for outcome in outcomes):
            raise _failure(outcomes)

    def _push(
        self, subscription: PushSubscription, data: bytes, kept: dict[str, str], deadline: float
    ) -> Outcome:
        """POST the encrypted message to one browser's push service (`kept`: TTL, Urgency)."""
        outcome = Outcome(subscription)
        try:
            encrypted = WebPusher(subscription.as_subscription_info()).encode(data)["body"]
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Encoding": "aes128gcm",
                **kept,
                "Authorization": push.authorization(subscription.endpoint),
            }
            response = self.exchange(subscription.endpoint, encrypted, headers, deadline)
        except TransportError as exc:  # no reply in time, or an address refused
            where = subscription.browser or "a browser"
            # The endpoint is a capability URL: the stored error, shown on the
            # settings and status pages, names its host only.
            outcome.error = TransportError(f"{where}: {redact_text(exc.message)}", exc.permanent)
            return outcome
        except Exception as exc:  # a key pywebpush cannot use: nothing was sent
            outcome.error = TransportError(f"cannot encrypt for this browser: {exc}", True)
            return outcome
        outcome.status = response.status_code
        outcome.error = _status_error(subscription, response.status_code)
        return outcome

    @staticmethod
    def _record(outcomes: list[Outcome]) -> None:
        accepted = [o.subscription.pk for o in outcomes if o.accepted]
        gone = [o.subscription for o in outcomes if o.status in GONE]
        if accepted:
            PushSubscription.objects.filter(pk__in=accepted).update(last_success_at=timezone.now())
        for subscription in gone:
            # Only the subscription we pushed to: the browser may have
            # subscribed again (new keys, same row) while we were sending.
            PushSubscription.objects.filter(
                pk=subscription.pk, endpoint=subscription.endpoint, p256dh=subscription.p256dh
            ).delete()


def _status_error(subscription: PushSubscription, status: int) -> TransportError | None:
    where = subscription.browser or "a browser"
    if 200 <= status < 300:
        return None
    if status in GONE:
        return TransportError(
            f"{where} no longer accepts push (HTTP {status}): its subscription was removed",
            permanent=True,
        )
    if status >= 500 or status in (408, 429):
        return TransportError(f"the push service of {where} answered HTTP {status}; will retry")
    return TransportError(
        f"the push service of {where} refused the message: HTTP {status}", permanent=True
    )


def _failure(outcomes: list[Outcome]) -> TransportError:
    """Why no browser got it: temporary if any failure may pass."""
    errors = [outcome.error for outcome in outcomes if outcome.error is not None]
    message = "; ".join(dict.fromkeys(error.message for error in errors))
    permanent = all(error.permanent for error in errors)
    return TransportError(message or "no push service accepted the message", permanent=permanent)
