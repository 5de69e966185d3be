"""Routers, one per contract plus auth and health."""
