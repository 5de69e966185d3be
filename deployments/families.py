"""The model families' deployments in ``prefect.yaml`` (and the GPU ones in ``prefect.kubernetes.yaml``),
generated from the family registry between two marker lines; everything else in the files is by hand.

    trainyard models deployments            # exit 1 and say which file is out of date
    trainyard models deployments --write    # rewrite the generated blocks
"""

from __future__ import annotations

from pathlib import Path

from trainyard.families import ModelFamily, families
from trainyard.settings import PROJECT_ROOT

BEGIN = "  # --- model families: generated from trainyard.families by `trainyard models deployments --write` ---"
END = "  # --- end of the generated model families ---"


def _entry(family: ModelFamily, pool_anchor: str, description: str) -> str:
    return (f"  - name: {family.name}\n    description: {description}\n"
            f"    entrypoint: flows.train:train_{family.attribute}\n"
            f"    work_pool: *{pool_anchor}\n    tags: *tags\n")  # fmt: skip


def blocks() -> dict[Path, str]:
    """Each deployment file and the generated block it must hold."""
    local = [_entry(f, f"{f.pool}_pool", f.summary) for f in families().values()]
    cluster = [_entry(f, "kubernetes_pool", f"{f.summary.rstrip('.')}, on a GPU node of the cluster.")
               for f in families().values() if f.pool == "gpu"]  # fmt: skip
    return {PROJECT_ROOT / "prefect.yaml": "\n".join(local),
            PROJECT_ROOT / "prefect.kubernetes.yaml": "\n".join(cluster)}  # fmt: skip


def rendered(path: Path, block: str) -> str:
    """``path``'s text with its generated block replaced by ``block``."""
    text = path.read_text()
    try:
        head, rest = text.split(BEGIN + "\n", 1)
        _, tail = rest.split(END + "\n", 1)
    except ValueError:
        raise ValueError(f"{path} lacks the marker lines of the generated model families") from None
    return f"{head}{BEGIN}\n{block}{END}\n{tail}"


def out_of_date(write: bool = False) -> list[Path]:
    """The deployment files whose generated block differs from the registry (rewritten if ``write``)."""
    stale = []
    for path, block in blocks().items():
        wanted = rendered(path, block)
        if wanted != path.read_text():
            stale.append(path)
            if write:
                path.write_text(wanted)
    return stale
