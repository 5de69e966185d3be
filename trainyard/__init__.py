"""trainyard's shared core: settings, specs, the registry, the state mapping and the CLI."""

__version__ = "0.1.0"
