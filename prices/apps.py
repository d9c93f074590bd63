from django.apps import AppConfig


class PricesConfig(AppConfig):
    name = "prices"

    def ready(self) -> None:
        from prices import checks  # noqa: F401  (registers the system checks)
