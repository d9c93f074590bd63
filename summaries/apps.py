from django.apps import AppConfig
from django.core import checks


class SummariesConfig(AppConfig):
    name = "summaries"

    def ready(self) -> None:
        from summaries.checks import catch_up_window_sane

        checks.register(catch_up_window_sane)
