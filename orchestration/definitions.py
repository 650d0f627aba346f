"""The one Definitions object: `dg dev` (via workspace.yaml) and `iwh run` both load this.

Each area (ingestion, transformation, quality, analysis, publication) has its own Definitions;
this module merges them with what they share: the warehouse resource, configured from the
environment, and the executor.
"""

from __future__ import annotations

from dagster import Definitions, EnvVar, in_process_executor

from orchestration.analysis.definitions import defs as analysis_defs
from orchestration.ingestion.definitions import defs as ingestion_defs
from orchestration.publication.definitions import publication_definitions
from orchestration.quality.definitions import defs as quality_defs
from orchestration.resources import WarehouseResource
from orchestration.transformation.definitions import defs as transformation_defs

_upstream_of_publication = [ingestion_defs, transformation_defs, quality_defs, analysis_defs]

shared_defs = Definitions(
    resources={"warehouse": WarehouseResource(landing_dir=EnvVar("IWH_LANDING_DIR"), home=EnvVar("IWH_HOME"))},
    # One process per run: DuckDB takes one writer per file, and the run holds the writer lock.
    executor=in_process_executor,
)

defs = Definitions.merge(
    *_upstream_of_publication,
    publication_definitions([key for area in _upstream_of_publication for asset in area.assets for key in asset.keys]),
    shared_defs,
)
