"""The parts every app builds on: API errors, pagination, schema, filters, throttling,
conditional lists, the channel layer, notification channels and per-user live groups.

The bottom layer: it imports no app (see docs/architecture.md, "Layers").
"""
