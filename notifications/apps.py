from django.apps import AppConfig
from django.core import checks


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        # Registers the delivery tasks in every process, web included: outbox
        # and delivery enqueue them by name (importing them there is a cycle),
        # and a registered task honours CELERY_TASK_ALWAYS_EAGER.
        from notifications import tasks  # noqa: F401
        from notifications.checks import vapid_keys_usable

        checks.register(vapid_keys_usable)
