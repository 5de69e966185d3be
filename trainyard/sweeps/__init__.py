"""Hyperparameter sweeps: Optuna's search over a family's ``search_space``, its study kept in the registry's
database, each trial scored by cross-validation on the training rows only (the test rows are the winner's)."""
