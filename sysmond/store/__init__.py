"""The round-robin store: numpy memory-mapped tiers with avg/min/max consolidation."""

from sysmond.store.engine import Store, StoreInfo, TierInfo
from sysmond.store.ladder import ladder_problems
from sysmond.store.read import QueryResult

__all__ = ["QueryResult", "Store", "StoreInfo", "TierInfo", "ladder_problems"]
