"""Warm start for flow runs: a fork server with Prefect, the flows and the ML libraries already imported.

A process worker starts every flow run as a fresh ``python -m prefect.engine``: an interpreter, then
``import prefect`` and the libraries the tasks use, seconds before the run reaches Running. Here the
pool's command is ``launch.py`` (stdlib only, started with ``-S``), which hands the run to the pool's
``server`` over a Unix socket; the server forks a child that already holds every import, and that
child runs Prefect's own engine entry point. Without a server the launcher becomes the cold command.
"""
