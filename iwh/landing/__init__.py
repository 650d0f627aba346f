"""The landing zone: the contract of every source, discovery, readers, validation and raw loading.

Plain Python (no Dagster): orchestration/ingestion wraps these functions in assets.
"""

from iwh.landing.contract import PARTITIONED_SOURCES, REFERENCE_SOURCES, SOURCES
from iwh.landing.discovery import LandingFile, LandingInventory, discover, source_files
from iwh.landing.errors import DeliveryError
from iwh.landing.loader import LoadResult, changed_partitions, changed_references, load_partition, load_reference
from iwh.landing.schema import ensure_tables

__all__ = [
    "PARTITIONED_SOURCES",
    "REFERENCE_SOURCES",
    "SOURCES",
    "DeliveryError",
    "LandingFile",
    "LandingInventory",
    "LoadResult",
    "changed_partitions",
    "changed_references",
    "discover",
    "ensure_tables",
    "load_partition",
    "load_reference",
    "source_files",
]
