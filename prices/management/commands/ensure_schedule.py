from django.core.management.base import BaseCommand

from prices.schedule import ensure_schedule


class Command(BaseCommand):
    help = "Create or correct the price pipeline's beat schedule (idempotent)."

    def handle(self, *args, **options) -> None:
        ensure_schedule()
        self.stdout.write("Price schedule ensured.")
