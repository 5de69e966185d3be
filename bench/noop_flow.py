"""The raw-Prefect baseline: a flow that does nothing.

python bench/noop_flow.py --serve NAME   # serve it with Prefect's runner (flow.serve) as deployment NAME
"""

import argparse

from prefect import flow


@flow(name="bench-noop")
def noop() -> None:
    """Return at once."""


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", required=True)
    noop.serve(name=parser.parse_args().serve, print_starting_message=False)
