"""The registry database: training runs, model versions, users and tokens."""
