"""WebSocket routes of the prices app (included by cryptomonitor.routing)."""

from django.urls import path

from prices.consumers import PriceConsumer

websocket_urlpatterns = [path("ws/prices/", PriceConsumer.as_asgi())]
