"""A user's watchlist: the coins pinned to the top of their dashboard."""

from __future__ import annotations

from prices.models import Coin, WatchlistEntry


def watch(user, coin: Coin) -> bool:
    """Pin `coin` for `user`; False when it was already pinned.

    Only tracked coins are polled, so watching a coin from the catalogue
    starts tracking it: a pinned card must not wait forever for a price.
    """
    _, created = WatchlistEntry.objects.get_or_create(user=user, coin=coin)
    Coin.objects.filter(pk=coin.pk, is_tracked=False).update(is_tracked=True)
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
