"""Publication: exports and the analysts' snapshot after everything else, and the sensor that
rebuilds after an ingestion."""

from collections.abc import Sequence

from dagster import AssetKey, Definitions

from orchestration.jobs import build_warehouse_job
from orchestration.publication.assets import build_publication_assets
from orchestration.publication.sensors import rebuild_after_ingestion_sensor


def publication_definitions(upstream_keys: Sequence[AssetKey]) -> Definitions:
    """Publication waits for every other area's assets, so it is built from their keys."""
    return Definitions(
        assets=build_publication_assets(upstream_keys),
        jobs=[build_warehouse_job],
        sensors=[rebuild_after_ingestion_sensor],
    )
