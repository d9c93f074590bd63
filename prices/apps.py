from django.apps import AppConfig


class PricesConfig(AppConfig):
    name = "prices"

    def ready(self) -> None:
        # Registers the system checks and the logout/credentials receivers.
        from prices import checks, signals  # noqa: F401
