from django.core.management.base import BaseCommand

from cryptomonitor.schedule import ensure_schedule


class Command(BaseCommand):
    help = "Create or correct every periodic task of the beat schedule (idempotent)."

    def handle(self, *args, **options) -> None:
        ensure_schedule()
        self.stdout.write("Beat schedule ensured.")
