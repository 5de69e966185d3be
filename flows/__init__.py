"""Prefect flows, one module per flow. Heavy libraries (torch, xgboost) load inside tasks, not here."""
