from django.urls import include, path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    # API tokens (helper F): their views in accounts/token_views.py go below.
    path("tokens/", include("accounts.token_urls")),
]
