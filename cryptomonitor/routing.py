"""WebSocket routes of every app, in one list for asgi.py."""

from prices.routing import websocket_urlpatterns as price_routes

websocket_urlpatterns = [*price_routes]
