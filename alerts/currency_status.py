"""Which of a user's active alerts are paused in effect by their currency's exchange rate.

An alert set in a currency other than the base is evaluated only while that
currency's rate is usable (prices.currencies.usable_rate: fetched, and not
older than EXCHANGE_RATE_STALE_SECONDS); alerts.matching.evaluated_rates
leaves the others out of every batch until a fresh rate comes. The alert
pages say so with what this module finds (one query: the user's active
alerts' currencies joined to their latest rates), and the API marks each such
alert (`waiting_for_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Q, Subquery

from alerts.models import Alert, Status
from common.display_currencies import base_currency, display_currencies
from prices.currencies import stale_before
from prices.models import ExchangeRate


@dataclass(frozen=True)
class PausedCurrency:
    """A currency some active alerts are set in whose rate cannot be used now."""

    currency: str
    # When its rate was last fetched; None: never (for the current base).
    fetched_at: datetime | None
    # False: no longer one of DISPLAY_CURRENCIES, so never evaluated again.
    offered: bool = True

    @property
    def code(self) -> str:
        return self.currency.upper()


def paused_currencies(user, now: datetime | None = None) -> list[PausedCurrency]:
    """The currencies of `user`'s active alerts whose rate is stale, never fetched or gone.

    In code order; empty for visitors and for users whose active alerts are
    all in the base or in currencies with a fresh rate.
    """
    if not getattr(user, "is_authenticated", False):
        return []
    base, offered = base_currency(), display_currencies()
    cutoff = stale_before(now)
    latest = ExchangeRate.objects.filter(currency=OuterRef("currency"), base=base)
    rows = (
        Alert.objects.filter(user=user, status=Status.ACTIVE)
        .exclude(currency=base)
        .values("currency")
        .distinct()
        .annotate(fetched_at=Subquery(latest.values("fetched_at")[:1]))
        .filter(Q(fetched_at__isnull=True) | Q(fetched_at__lt=cutoff) | ~Q(currency__in=offered))
        .order_by("currency")
    )
    return [
        PausedCurrency(row["currency"], row["fetched_at"], row["currency"] in offered)
        for row in rows
    ]
