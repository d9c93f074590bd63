import time

from django.conf import settings
from django.core.management.base import BaseCommand

from prices.polling import PollReport, poll_once


class Command(BaseCommand):
    help = (
        "Poll the price feed in the foreground and print what was stored "
        "(every PRICE_POLL_SECONDS until Ctrl-C, or once with --once)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Poll once, then exit.")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Poll even while the feed is backing off after failures.",
        )

    def handle(self, *args, once: bool, force: bool, **options) -> None:
        try:
            while True:
                self.print_report(poll_once(force=force))
                if once:
                    return
                time.sleep(settings.PRICE_POLL_SECONDS)
        except KeyboardInterrupt:
            self.stdout.write("Stopped.")

    def print_report(self, report: PollReport) -> None:
        write = self.stdout.write
        if report.skipped:
            write(self.style.WARNING(f"Skipped: {report.skipped}"))
            return
        if report.error:
            write(self.style.ERROR(f"Feed error: {report.error}"))
            write(f"Backing off until {report.backoff_until:%Y-%m-%d %H:%M:%S} UTC")
            return
        ingest = report.ingest
        write(
            self.style.SUCCESS(
                f"Polled {settings.PRICE_SOURCE}: {report.requested} coins requested, "
                f"{ingest.stored} new ticks, {len(ingest.changed)} prices changed"
            )
        )
        for coin in ingest.changed:
            label = " SIMULATED" if coin["simulated"] else ""
            write(
                f"  {coin['id']:<28} {coin['symbol'].upper():<8} "
                f"{coin['price']:>24} at {coin['updated_at']}{label}"
            )
        for rejection in report.rejections:
            write(self.style.WARNING(f"  rejected {rejection.coingecko_id}: {rejection.reason}"))
