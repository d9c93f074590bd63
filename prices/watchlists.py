"""A user's watchlist: the coins pinned to the top of their dashboard."""

from __future__ import annotations

from django.conf import settings
from django.db import connection, transaction

from prices.models import Coin, WatchlistEntry

# pg_advisory_xact_lock key: one tracking decision at a time, so concurrent
# watchers cannot push the count past MAX_TRACKED_COINS together.
TRACKING_LOCK = 7_415_001


class WatchRefused(Exception):
    """Why a coin cannot be watched; the message is for the user."""


def watch(user, coin: Coin) -> bool:
    """Pin `coin` for `user`; False when it was already pinned.

    Only tracked coins are polled, so watching a coin from the catalogue
    starts tracking it: a pinned card must not wait forever for a price.
    Raises WatchRefused past the user's WATCHLIST_MAX_PER_USER, or when an
    untracked coin would take the polls past MAX_TRACKED_COINS.
    """
    if WatchlistEntry.objects.filter(user=user, coin=coin).exists():
        return False
    if user.watchlist.count() >= settings.WATCHLIST_MAX_PER_USER:
        raise WatchRefused(
            f"Your watchlist holds its most, {settings.WATCHLIST_MAX_PER_USER} coins: "
            "remove one to add another."
        )
    with transaction.atomic():
        if not Coin.objects.filter(pk=coin.pk, is_tracked=True).exists():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TRACKING_LOCK])
            if Coin.objects.filter(is_tracked=True).count() >= settings.MAX_TRACKED_COINS:
                raise WatchRefused(
                    f"CryptoMonitor already polls its most coins ({settings.MAX_TRACKED_COINS}), "
                    f"so it cannot start tracking {coin.name}; watch a tracked coin instead."
                )
            Coin.objects.filter(pk=coin.pk, is_tracked=False).update(is_tracked=True)
        _, created = WatchlistEntry.objects.get_or_create(user=user, coin=coin)
    return created


def unwatch(user, coin: Coin) -> bool:
    """Unpin `coin`; False when `user` was not watching it."""
    deleted, _ = WatchlistEntry.objects.filter(user=user, coin=coin).delete()
    return deleted > 0


def is_watched(user, coin: Coin) -> bool:
    """Whether `user` pinned `coin`; never for anonymous."""
    return user.is_authenticated and WatchlistEntry.objects.filter(user=user, coin=coin).exists()


def watched_coins(user) -> list[Coin]:
    """The user's pinned coins in the order they pinned them; none for anonymous."""
    if not user.is_authenticated:
        return []
    return [entry.coin for entry in user.watchlist.select_related("coin").order_by("created_at")]
