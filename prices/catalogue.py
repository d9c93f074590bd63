"""CoinGecko's coin catalogue (`/coins/list`) as Coin rows, so users can pick any coin."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from prices.models import Coin

log = logging.getLogger("prices.catalogue")

BATCH_SIZE = 1000


@dataclass
class CatalogueSync:
    """What a catalogue sync changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    newly_tracked: int = 0
    no_longer_tracked: int = 0
    unknown_tracked: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.added + self.updated + self.unchanged


def sync_catalogue(
    entries: Iterable[dict[str, str]],
    *,
    tracked_ids: Iterable[str] | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> CatalogueSync:
    """Upsert {"id", "symbol", "name"} entries into Coin rows, in bulk.

    Only symbol and name are written on existing coins: whether a coin is
    tracked and its latest price stay as they are. Coins of TRACKED_COINS (or
    `tracked_ids`) become tracked, and coins the setting dropped since the last
    sync stop being tracked (`untrack_dropped`). `progress(done, total)` is
    called after each batch.
    """
    catalogue: dict[str, tuple[str, str]] = {}
    for entry in entries:
        catalogue.setdefault(entry["id"], (entry["symbol"], entry["name"]))
    rows = Coin.objects.values_list("coingecko_id", "symbol", "name")
    known = {coin_id: (symbol, name) for coin_id, symbol, name in rows}
    result = CatalogueSync()
    changed = []
    for coin_id, names in catalogue.items():
        if coin_id not in known:
            result.added += 1
        elif known[coin_id] != names:
            result.updated += 1
        else:
            result.unchanged += 1
            continue
        changed.append(Coin(coingecko_id=coin_id, symbol=names[0], name=names[1]))
    for done in range(0, len(changed), batch_size):
        _upsert(changed[done : done + batch_size])
        if progress:
            progress(min(done + batch_size, len(changed)), len(changed))
    tracked = list(settings.TRACKED_COINS if tracked_ids is None else tracked_ids)
    with transaction.atomic():
        result.newly_tracked = Coin.objects.filter(
            coingecko_id__in=tracked, is_tracked=False
        ).update(is_tracked=True)
        result.no_longer_tracked = untrack_dropped(tracked)
        Coin.objects.filter(coingecko_id__in=tracked, tracked_by_setting=False).update(
            tracked_by_setting=True
        )
    result.unknown_tracked = sorted(set(tracked) - set(catalogue) - set(known))
    if result.unknown_tracked:
        log.warning("Tracked coins unknown to CoinGecko: %s", ", ".join(result.unknown_tracked))
    return result


def untrack_dropped(tracked: list[str]) -> int:
    """Stop tracking coins tracked only because an earlier TRACKED_COINS named them.

    A coin someone watches, or with any alert, stays tracked: its card and its
    alert need prices. Every alert can fire again (active, paused, triggered
    and so resumable, or expired and so revivable by an edit, whose form
    offers only tracked coins), so its status does not matter, and prices
    need not know alerts' statuses (alerts builds on prices, not the reverse).
    Coins tracked in the admin were never the setting's.
    Returns how many coins stopped being tracked.
    """
    dropped = Coin.objects.filter(tracked_by_setting=True).exclude(coingecko_id__in=tracked)
    needed = Q(watchers__isnull=False) | Q(alerts__isnull=False)
    untracked = (
        Coin.objects.filter(pk__in=dropped.values("pk"), is_tracked=True)
        .exclude(pk__in=Coin.objects.filter(needed).values("pk"))
        .update(is_tracked=False)
    )
    # Coins kept for a watcher or an alert stay marked: a later sync drops
    # them once nothing needs them.
    dropped.filter(is_tracked=False).update(tracked_by_setting=False)
    if untracked:
        log.info("Stopped tracking %d coins no longer in TRACKED_COINS", untracked)
    return untracked


def _upsert(coins: list[Coin]) -> None:
    # ON CONFLICT (coingecko_id) DO UPDATE symbol, name: one statement per
    # batch, and safe against a poll creating the same coin meanwhile.
    with transaction.atomic():
        Coin.objects.bulk_create(
            coins,
            update_conflicts=True,
            unique_fields=["coingecko_id"],
            update_fields=["symbol", "name"],
        )
