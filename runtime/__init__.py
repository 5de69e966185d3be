"""The local runtime: the stack `trainyard up` runs (Prefect server, workers, warm servers, the API's
process), its supervision and locks, the worker image, and the patches Prefect's processes load.

It runs flows; nothing in ``trainyard`` (the core), ``tasks``, ``flows`` or ``api`` imports it."""
