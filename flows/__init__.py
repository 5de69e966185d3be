"""Prefect flows: one per model family (``train``) and ``train_all``. Heavy libraries load inside tasks, not here."""
