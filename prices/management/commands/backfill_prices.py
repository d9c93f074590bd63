from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from prices.backfill import backfill_coin
from prices.quotes import FeedError


class Command(BaseCommand):
    help = (
        "Fill price history from CoinGecko's /coins/{id}/market_chart "
        "(default: the tracked coins) so charts are not empty on day one."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("ids", nargs="*", help="CoinGecko ids (default: TRACKED_COINS)")
        parser.add_argument(
            "--days",
            type=int,
            default=30,
            help="How far back (1: 5-minute points, 2-90: hourly, more: daily)",
        )

    def handle(self, *args, ids: list[str], days: int, **options) -> None:
        from prices.coingecko import CoinGeckoClient

        if days < 1:
            raise CommandError("--days must be at least 1")
        ids = ids or settings.TRACKED_COINS
        failed = []
        with CoinGeckoClient.from_settings() as client:
            for number, coin_id in enumerate(ids, start=1):
                prefix = f"[{number}/{len(ids)}] {coin_id}:"
                try:
                    report = backfill_coin(
                        client,
                        coin_id,
                        days,
                        on_wait=lambda s, p=prefix: self.stdout.write(
                            f"{p} rate limited, waiting {s:.0f} s"
                        ),
                    )
                except FeedError as exc:
                    failed.append(coin_id)
                    self.stderr.write(self.style.ERROR(f"{prefix} failed: {exc}"))
                    continue
                self.stdout.write(f"{prefix} {report.points} points, {report.stored} new ticks")
        if failed:
            raise CommandError(f"Backfill failed for {', '.join(failed)}")
        self.stdout.write(self.style.SUCCESS(f"Backfilled {len(ids)} coins over {days} days."))
