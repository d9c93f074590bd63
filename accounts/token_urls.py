"""/account/tokens/: included from accounts.urls, inside its `accounts` namespace."""

from django.urls import path

from accounts import token_views

urlpatterns = [
    path("", token_views.token_list, name="tokens"),
    path("<int:pk>/revoke/", token_views.token_revoke, name="token-revoke"),
]
