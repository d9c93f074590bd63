from django.urls import path

from prices import logo_views, views

app_name = "prices"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("coins/search.json", views.coin_search, name="coin-search"),
    path("coins/<str:coingecko_id>/", views.coin_detail, name="coin-detail"),
    path("coins/<str:coingecko_id>/history.json", views.coin_history, name="coin-history"),
    path("coins/<str:coingecko_id>/logo/", logo_views.coin_logo, name="coin-logo"),
    path("watchlist/add/", views.watchlist_add, name="watchlist-add"),
    path("watchlist/<str:coingecko_id>/remove/", views.watchlist_remove, name="watchlist-remove"),
]
