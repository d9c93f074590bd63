"""Channel-layer group names: prices' sockets join them, notifications sends to them."""


def user_group(user_id: int) -> str:
    """The group carrying one user's own events (alert popups, sign-outs)."""
    return f"user.{user_id}"


def token_group(token_id: int) -> str:
    """The group of the sockets one API token opened: its revocation closes them."""
    return f"token.{token_id}"
