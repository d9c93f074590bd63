from django.apps import AppConfig
from django.core import checks

from accounts.checks import end_other_credentials_installed


class AccountsConfig(AppConfig):
    name = "accounts"

    def ready(self) -> None:
        checks.register(end_other_credentials_installed, checks.Tags.security)
