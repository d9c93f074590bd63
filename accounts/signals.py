"""What the accounts app announces to the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent with `user` once a password change or reset has revoked the user's API
# tokens: apps holding long-lived access for that user (open WebSockets) end it.
credentials_changed = Signal()
