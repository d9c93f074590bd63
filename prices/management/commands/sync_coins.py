"""manage.py sync_coins: load CoinGecko's coin catalogue so users can pick any coin."""

from django.core.management.base import BaseCommand, CommandError

from prices.catalogue import BATCH_SIZE, sync_catalogue
from prices.coingecko import CoinGeckoClient
from prices.logos import coins_without_logos, refresh_logos
from prices.quotes import FeedError


class Command(BaseCommand):
    help = "Load CoinGecko's coin list (/coins/list) into the Coin table and mark TRACKED_COINS."

    def add_arguments(self, parser):
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help="coins written per statement"
        )

    def handle(self, *args, batch_size: int, **options) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        self.stdout.write("Fetching the coin list from CoinGecko...")
        try:
            with CoinGeckoClient.from_settings() as client:
                entries = client.list_coins()
        except FeedError as exc:
            raise CommandError(f"Could not fetch the coin list from CoinGecko: {exc}") from exc
        self.stdout.write(f"CoinGecko lists {len(entries)} coins.")
        result = sync_catalogue(entries, batch_size=batch_size, progress=self._progress)
        self.stdout.write(
            self.style.SUCCESS(
                f"{result.added} coins added, {result.updated} updated, "
                f"{result.unchanged} unchanged; {result.newly_tracked} newly tracked, "
                f"{result.no_longer_tracked} no longer tracked."
            )
        )
        # Tracked coins' logos the polls' task did not get (or never tried).
        logos = refresh_logos(coins_without_logos())
        if logos.stored or logos.failed:
            self.stdout.write(f"{len(logos.stored)} logos stored, {len(logos.failed)} refused.")
        if result.unknown_tracked:
            self.stderr.write(
                self.style.WARNING(
                    "TRACKED_COINS not on CoinGecko (check the ids): "
                    + ", ".join(result.unknown_tracked)
                )
            )

    def _progress(self, done: int, total: int) -> None:
        self.stdout.write(f"  saved {done}/{total} ({100 * done // total}%)")
