"""The `trainyard` command line (`cli.main:app`): it drives the runtime, the registry and the datasets;
nothing imports it."""
