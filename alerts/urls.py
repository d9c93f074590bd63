from django.urls import path

from alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.alert_list, name="list"),
    path("new/", views.alert_create, name="create"),
    path("<int:pk>/", views.alert_detail, name="detail"),
    path("<int:pk>/edit/", views.alert_edit, name="edit"),
    path("<int:pk>/pause/", views.alert_pause, name="pause"),
    path("<int:pk>/resume/", views.alert_resume, name="resume"),
    path("<int:pk>/delete/", views.alert_delete, name="delete"),
]
