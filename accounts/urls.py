from django.urls import include, path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("", views.account, name="account"),
    path(
        "notification-email/send/",
        views.send_notification_email_link,
        name="send-notification-email-link",
    ),
    path(
        "notification-email/confirm/<str:token>/",
        views.confirm_notification_email,
        name="confirm-notification-email",
    ),
    # API tokens (helper F): their views in accounts/token_views.py go below.
    path("tokens/", include("accounts.token_urls")),
]
