"""Champion / challenger: whether a newly registered model becomes its model type's and dataset's champion.

The first model of a type and dataset becomes champion. After that, a run that asks for promotion
(scheduled retraining does) takes the title only if its hold-out metric beats the champion's, scored
on the *same* held-out rows, by more than the margin. The move is a compare-and-set: if another run
promoted meanwhile, the decision is taken again against the new champion, so a burst of retrainings
finishing together ends with exactly one champion, the best of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trainyard.errors import RegistryError
from trainyard.registry import aliases


@dataclass(frozen=True)
class Decision:
    promoted: bool
    champion_before: str | None
    reason: str


def decide(
    model_type: str,
    dataset: str,
    version: str,
    score: float | None,
    score_of: Callable[[str], float | None],
    *,
    compete: bool,
    metric: str,
    margin: float,
    actor: str,
    lower_is_better: bool = False,
) -> Decision:
    """Promote ``version`` (scoring ``score`` on ``metric``) if it should be champion; the decision and why.
    A score beats the champion's by more than ``margin``: above it, or below it for an error
    (``lower_is_better``: RMSE, MAE).

    ``score_of(version)`` scores another version on this run's held-out rows (None: not computable,
    e.g. ROC-AUC with one class present).
    """
    for _ in range(aliases.CAS_ATTEMPTS):
        current = aliases.holder(model_type, dataset)
        if current == version:
            return Decision(True, current, "already the champion")
        if current is None:
            reason = f"first {model_type} model on this dataset"
            if aliases.compare_and_set(model_type, dataset, aliases.CHAMPION, version, None, actor, reason):
                return Decision(True, None, reason)
            continue
        if not compete:
            return Decision(False, current, f"not a promotion run (promote=false); champion stays {current}")
        theirs = score_of(current)
        if score is None or theirs is None:
            return Decision(False, current, f"{metric} could not be compared with champion {current} on this run's "
                                            f"held-out rows (undefined there, or the champion does not load); "
                                            f"champion stays {current}")  # fmt: skip
        direction = "lower" if lower_is_better else "higher"
        beats = score < theirs - margin if lower_is_better else score > theirs + margin
        if not beats:
            return Decision(False, current, f"{metric} {score:.4f} does not beat champion {current}'s {theirs:.4f} "
                                            f"on this run's held-out rows by more than {margin:g} "
                                            f"({direction} is better)")  # fmt: skip
        reason = (f"{metric} {score:.4f} beats champion {current}'s {theirs:.4f} by more than {margin:g} "
                  f"({direction} is better)")  # fmt: skip
        if aliases.compare_and_set(model_type, dataset, aliases.CHAMPION, version, current, actor, reason):
            return Decision(True, current, reason)
    raise RegistryError(f"the {model_type} champion kept changing while deciding on {version}; not promoted")
