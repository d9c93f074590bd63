"""What a person does on allauth's pages, step by step, for tests that need it done."""

from __future__ import annotations

import re

from django.core import mail

NEW_PASSWORD = "a-new-Passphrase-77"


def change_password(client, old: str, new: str = NEW_PASSWORD):
    """On the change page of the client's logged-in session."""
    return client.post(
        "/accounts/password/change/", {"oldpassword": old, "password1": new, "password2": new}
    )


def reset_password_by_email(client, email: str, new: str = NEW_PASSWORD):
    """Ask for a reset link for `email`, follow the one mailed (the last mail), set `new`."""
    client.post("/accounts/password/reset/", {"email": email})
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body)
    # allauth redirects the key URL to one without the key, kept in the session.
    form_page = client.get(link.group(1), follow=True)
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    return client.post(action, {"password1": new, "password2": new})


def sign_up(client, username: str, email: str, password: str = NEW_PASSWORD):
    """On the sign-up page."""
    return client.post(
        "/accounts/signup/",
        {"username": username, "email": email, "password1": password, "password2": password},
    )
