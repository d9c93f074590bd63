"""The ways an alert reaches its owner: alerts lets users choose them, notifications sends."""

from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    IN_APP = "in_app", "In-app"
    WEBHOOK = "webhook", "Webhook"
    APPRISE = "apprise", "Apprise"
    WEB_PUSH = "web_push", "Web Push"
