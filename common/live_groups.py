"""Channel-layer group names: prices' sockets join them, notifications sends to them."""


def user_group(user_id: int) -> str:
    """The group carrying one user's own events (alert popups, sign-outs)."""
    return f"user.{user_id}"
