"""Model families, one module each: see ``base.ModelFamily`` and ``registry``."""

from trainyard.families.base import Hyperparameters, ModelFamily
from trainyard.families.registry import UnknownFamily, families, families_in_pool, get_family

__all__ = ["Hyperparameters", "ModelFamily", "UnknownFamily", "families", "families_in_pool", "get_family"]
