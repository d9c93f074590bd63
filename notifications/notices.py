"""What a delivery says, whatever the channel: one Notice per Delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from notifications.models import Delivery
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
    price: str
    triggered_at: datetime
    # Site-relative; `url` is the absolute link used in emails and webhooks.
    path: str
    note: str = ""
    is_test: bool = False

    @property
    def url(self) -> str:
        return settings.SITE_URL + self.path

    @property
    def title(self) -> str:
        if self.is_test:
            return "CryptoMonitor test notification"
        return f"{self.symbol} {self.condition} (now {self.price} {currency()})"

    @property
    def subject(self) -> str:
        return f"CryptoMonitor: {self.title}"

    def payload(self) -> dict:
        """The alert as pushed to the browser (docs/websocket.md) and posted to webhooks."""
        return {
            "id": self.alert_id,
            "event_id": self.event_id,
            "coin": self.coin,
            "symbol": self.symbol,
            "condition": self.condition,
            "message": self.message,
            "price": self.price,
            "triggered_at": self.triggered_at.isoformat(),
            "url": self.path,
        }


def currency() -> str:
    return settings.VS_CURRENCY.upper()


def notice_for(delivery: Delivery) -> Notice:
    """Build the notice of a delivery: its alert event's, or a test message."""
    event = delivery.event
    if event is None:
        return Notice(
            delivery_id=delivery.pk,
            user_id=delivery.user_id,
            alert_id=None,
            event_id=None,
            coin="CryptoMonitor",
            symbol="TEST",
            condition="test notification",
            message="This is a test: your alerts will arrive on this channel like this.",
            price="",
            triggered_at=delivery.created_at or timezone.now(),
            path=reverse("notifications:settings"),
            is_test=True,
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
        triggered_at=event.triggered_at,
        path=alert.get_absolute_url(),
        note=alert.note,
    )


def with_notice_relations(deliveries: QuerySet[Delivery]) -> QuerySet[Delivery]:
    """Load with each delivery everything its notice and transport need."""
    return deliveries.select_related("user__profile", "event__alert", "event__coin")


def load_delivery(delivery_id: int) -> Delivery:
    return with_notice_relations(Delivery.objects.all()).get(pk=delivery_id)
