from django.urls import path

from notifications import push_views, views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/read/", views.mark_read, name="mark-read"),
    path("read-all/", views.mark_all_read, name="mark-all-read"),
    path("settings/", views.notification_settings, name="settings"),
    path(
        "settings/webhook-secret/",
        views.regenerate_webhook_secret,
        name="regenerate-webhook-secret",
    ),
    path("settings/test/<str:channel>/", views.send_test, name="send-test"),
    path("settings/push/", push_views.subscribe, name="push-subscribe"),
    path(
        "settings/push/<int:pk>/remove/",
        push_views.remove_subscription,
        name="push-remove",
    ),
]
