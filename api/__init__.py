"""The HTTP API: the jobs contract (seed 003) and the training-runs contract (seed 000)."""
