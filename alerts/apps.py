from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"

    def ready(self) -> None:
        # Connects the receivers; at ready(), once every app's models are loaded.
        from alerts import receivers  # noqa: F401
