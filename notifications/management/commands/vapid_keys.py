from django.core.management.base import BaseCommand

from notifications import push


class Command(BaseCommand):
    help = (
        "Print Web Push's VAPID key pair as environment lines: the pair in use (the "
        "environment's, else the database's, generated if none), or a new one with --new. "
        "Copy the pair in use to every node's environment to run several without "
        "orphaning browsers' subscriptions."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--new", action="store_true", help="a fresh pair, stored nowhere")

    def handle(self, *args, new: bool, **options) -> None:
        private, public = push.new_key_pair() if new else push.key_pair()
        self.stdout.write(f"VAPID_PRIVATE_KEY={private}\nVAPID_PUBLIC_KEY={public}\n")
