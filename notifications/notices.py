"""What a delivery says, whatever the channel: one Notice per Delivery.

A delivery carries an alert's firing (its event), a scheduled summary, or a
test message (Delivery.kind). A summary's content is written once by the
summaries app on its occurrence (summaries.SummaryOccurrence.content, read
here by name as `event` is): a mapping of

- `title`, `short` (one line: push bodies, popups), `text` (the whole
  summary as plain text: inbox, Apprise, the email's text part), `path`
  (site-relative: where a click leads);
- `scheduled_for` (UTC), `local_time` and `time_zone`, `currency`;
- `coins`: each watched coin's `id`, `symbol`, `name`, `price`,
  `change_24h_pct` (decimal strings or null), `price_text`, `change_text`,
  `path`;
- `alerts`: each active alert's `id`, `coin`, `symbol`, `description`,
  `distance`, `distance_percent` (decimal strings or null),
  `distance_text`, `path`.

Webhooks post it as it is (docs/summaries.md#what-each-channel-gets).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from common.display_currencies import base_currency
from notifications.models import Delivery, DeliveryKind
from prices.currencies import format_price
from prices.models import decimal_text


@dataclass(frozen=True)
class Notice:
    delivery_id: int
    user_id: int
    alert_id: int | None
    event_id: int | None
    coin: str
    symbol: str
    condition: str
    message: str
    # The price the alert compared, a plain decimal in `currency` (the
    # alert's: its event's), and the rate from the base it was converted with.
    price: str
    triggered_at: datetime
    # Site-relative; `url` is the absolute link used in emails and webhooks.
    path: str
    note: str = ""
    kind: DeliveryKind = DeliveryKind.ALERT
    # A summary's content (see the module's docstring) and its occurrence's id.
    summary: Mapping | None = None
    summary_id: int | None = None
    currency: str = ""
    exchange_rate: str = "1"

    @property
    def is_test(self) -> bool:
        return self.kind == DeliveryKind.TEST

    @property
    def is_summary(self) -> bool:
        return self.kind == DeliveryKind.SUMMARY

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.path

    @property
    def title(self) -> str:
        if self.is_test:
            return "CryptoMonitor test notification"
        if self.summary is not None:
            return self.summary["title"]
        return f"{self.symbol} {self.condition} (now {self.price_text})"

    @property
    def price_text(self) -> str:
        """The price for people: "30010 USD" in the base, else as pages print it: "€27,612.40"."""
        if not self.price:
            return ""  # a test or a summary: no price
        code = self.currency or base_currency()
        if code == base_currency():
            return f"{self.price} {code.upper()}".strip()
        return format_price(Decimal(self.price), code)

    @property
    def subject(self) -> str:
        return f"CryptoMonitor: {self.title}"

    @property
    def brief(self) -> str:
        """One line under the title, where space is short (a push notification)."""
        if self.summary is not None:
            return self.summary["short"]
        return self.message if self.is_test else f"{self.coin}: {self.message}"

    def payload(self) -> dict:
        """The alert as pushed to the browser (docs/websocket.md) and posted to webhooks.

        A summary's is a popup's: the title where the coin goes, its short
        line as the message, and `kind` to tell it from an alert.
        """
        if self.summary is not None:
            return {
                "id": None,
                "event_id": None,
                "kind": DeliveryKind.SUMMARY.value,
                "summary_id": self.summary_id,
                "coin": self.title,
                "symbol": "",
                "condition": "",
                "message": self.brief,
                "price": "",
                "triggered_at": self.triggered_at.isoformat(),
                "url": self.path,
            }
        return {
            "id": self.alert_id,
            "event_id": self.event_id,
            "coin": self.coin,
            "symbol": self.symbol,
            "condition": self.condition,
            "message": self.message,
            "price": self.price,
            "currency": self.currency,
            "exchange_rate": self.exchange_rate,
            "price_text": self.price_text,
            "triggered_at": self.triggered_at.isoformat(),
            "url": self.path,
        }


def notice_for(delivery: Delivery) -> Notice:
    """Build the notice of a delivery: its alert event's, its summary's, or a test message."""
    if delivery.summary_id is not None:
        occurrence = delivery.summary
        return _not_an_alert(
            delivery,
            kind=DeliveryKind.SUMMARY,
            symbol="SUMMARY",
            condition="scheduled summary",
            message=occurrence.content["text"],
            triggered_at=occurrence.scheduled_for,
            path=occurrence.content["path"],
            summary=occurrence.content,
            summary_id=occurrence.pk,
        )
    event = delivery.event
    if event is None:
        return _not_an_alert(
            delivery,
            kind=DeliveryKind.TEST,
            symbol="TEST",
            condition="test notification",
            message="This is a test: your alerts will arrive on this channel like this.",
            triggered_at=delivery.created_at or timezone.now(),
            path=reverse("notifications:settings"),
        )
    alert = event.alert
    coin = event.coin
    return Notice(
        delivery_id=delivery.pk,
        user_id=delivery.user_id,
        alert_id=alert.pk,
        event_id=event.pk,
        coin=coin.name,
        symbol=coin.symbol.upper(),
        condition=alert.describe(),
        message=event.reason or f"{coin.symbol.upper()} {alert.describe()}",
        price=decimal_text(event.price),
        currency=event.currency,
        exchange_rate=decimal_text(event.exchange_rate),
        triggered_at=event.triggered_at,
        path=alert.get_absolute_url(),
        note=alert.note,
    )


def _not_an_alert(delivery: Delivery, **fields) -> Notice:
    """The notice of a summary or a test: no alert, no event, no price."""
    return Notice(
        delivery_id=delivery.pk,
        user_id=delivery.user_id,
        alert_id=None,
        event_id=None,
        coin="CryptoMonitor",
        price="",
        **fields,
    )


def with_notice_relations(deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """Load with each delivery everything its notice and transport need."""
    return deliveries.select_related("user__profile", "event__alert", "event__coin", "summary")


def load_delivery(delivery_id: int) -> Delivery:
    return with_notice_relations(Delivery.objects.all()).get(pk=delivery_id)
