"""What the accounts app announces to the apps above it, which it must not import."""

from django.dispatch import Signal

# Sent with `user` once a password change or reset has revoked the user's API
# tokens: apps holding long-lived access for that user (open WebSockets) end it.
credentials_changed = Signal()

# Sent with `token_id` once one token's revocation (the tokens page) has
# committed: the sockets that token opened close. A new password revokes all
# of a user's tokens and sends credentials_changed instead.
token_revoked = Signal()
