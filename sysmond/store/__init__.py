"""The round-robin store: numpy memory-mapped tiers with avg/min/max consolidation."""

from sysmond.store.engine import QueryResult, Store, StoreInfo, TierInfo
from sysmond.store.ladder import ladder_problems

__all__ = ["QueryResult", "Store", "StoreInfo", "TierInfo", "ladder_problems"]
