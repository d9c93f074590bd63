"""Settings of the real Celery workers the notification tests start.

The pytest settings with two changes a subprocess cannot get otherwise: mail
goes over SMTP to the test's aiosmtpd server (pytest settings use locmem), and
tasks go to the test's private queues so no other worker can take them.
"""

import os

from tests_support.settings import *  # noqa: F403

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ["CM_TEST_SMTP_PORT"])
EMAIL_HOST_USER = ""
EMAIL_HOST_PASSWORD = ""
EMAIL_USE_TLS = False
EMAIL_USE_SSL = False
CELERY_TASK_DEFAULT_QUEUE = os.environ["CM_TEST_CELERY_QUEUE"]
# Deliveries a worker enqueues (retries, digests) go to the test's queue for them.
CELERY_TASK_ROUTES = {
    task: {"queue": os.environ["CM_TEST_NOTIFICATIONS_QUEUE"]}
    for task in CELERY_TASK_ROUTES  # noqa: F405
}
# The URLconf the test itself runs with, so links in messages match.
ROOT_URLCONF = os.environ.get("CM_TEST_ROOT_URLCONF", ROOT_URLCONF)  # noqa: F405
