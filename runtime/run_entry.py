"""The flow-run command of container pools: ``python -m runtime.run_entry``.

Prefect's own run supervisor (``prefect flow-run execute``: it starts the engine, watches for a
cancel and stops the engine on one), with trainyard's Prefect patches applied first, as the warm
server applies them on process pools (``runtime.prefect_patches``: a cancelled run's container is
gone about a second after its engine, not three).
"""

from __future__ import annotations

import sys

from runtime import prefect_patches


def main() -> None:
    prefect_patches.install()
    from prefect.cli import app

    sys.argv = ["prefect", "flow-run", "execute"]  # the flow run's id comes in PREFECT__FLOW_RUN_ID
    app()


if __name__ == "__main__":
    main()
