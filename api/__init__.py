"""The HTTP API: the jobs API and the training-runs API."""
