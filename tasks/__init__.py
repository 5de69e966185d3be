"""Prefect tasks: one small module per pipeline step."""
