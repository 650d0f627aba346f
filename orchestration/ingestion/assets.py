"""Raw assets: thin Dagster glue around iwh.landing (which does the reading, checking and loading)."""

from collections.abc import Iterator

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    DataVersion,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
)

from iwh.landing import (
    PARTITIONED_SOURCES,
    REFERENCE_SOURCES,
    SOURCES,
    DeliveryError,
    LoadResult,
    load_partition,
    load_reference,
    source_files,
)
from iwh.settings import SettingsError
from orchestration.ingestion.partitions import cohort_partitions
from orchestration.progress import report_root_cause
from orchestration.resources import WarehouseResource

RAW_GROUP = "raw"


def raw_asset_key(source: str) -> AssetKey:
    return AssetKey(["raw", source])


def _metadata(result: LoadResult) -> dict[str, object]:
    return {
        "source_files": MetadataValue.json(list(result.source_files)),
        "file_sha256": MetadataValue.json(list(result.file_sha256)),
        "unchanged": result.unchanged,
        "rows_delivered": result.rows_delivered,
        "rows_quarantined": result.rows_quarantined,
        "quarantine_by_reason": MetadataValue.json(result.quarantine_counts),
        "extra_columns": MetadataValue.json(list(result.extra_columns)),
        "rows_per_second": round(result.rows_per_second),
    }


def _failure(error: Exception) -> Failure:
    # DeliveryError and SettingsError messages name file, row and column but never a cell value.
    return Failure(description=str(error), allow_retries=False)


def _partitioned_raw_asset(source: str) -> AssetsDefinition:
    spec = SOURCES[source]

    @asset(
        key=raw_asset_key(source),
        group_name=RAW_GROUP,
        partitions_def=cohort_partitions,
        kinds={"duckdb"},
        # A cohort year may not have every source yet (NIR arrives before the accounts, say):
        # then the asset is skipped for that year instead of failing the run.
        output_required=False,
        description=f"{spec.table}: {spec.directory}/ deliveries, one partition per cohort year, "
        "identifiers replaced by person_key; row-level problems listed in quality.quarantine.",
    )
    def raw_partition(context: AssetExecutionContext, warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
        settings = warehouse.settings()
        cohort_year = int(context.partition_key)
        if not source_files(settings.landing_dir, spec, cohort_year):
            context.log.info(f"no {source} delivery for cohort {cohort_year}: nothing to load")
            return
        try:
            with warehouse.connect() as con:
                result = load_partition(con, settings, source, cohort_year, context.run.run_id, context.log)
        except (DeliveryError, SettingsError) as error:
            raise _failure(error) from None
        yield MaterializeResult(metadata=_metadata(result), data_version=DataVersion(result.file_sha256[0]))

    return raw_partition


def _reference_raw_asset(source: str) -> AssetsDefinition:
    spec = SOURCES[source]

    @asset(
        key=raw_asset_key(source),
        group_name=RAW_GROUP,
        kinds={"duckdb"},
        description=f"{spec.table}: SSB/KLASS reference data from {spec.directory}/, all years, replaced as a whole.",
    )
    def raw_reference(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        settings = warehouse.settings()
        try:
            with warehouse.connect() as con:
                result = load_reference(con, settings, source, context.run.run_id, context.log)
        except (DeliveryError, SettingsError) as error:
            raise _failure(error) from None
        return MaterializeResult(metadata=_metadata(result), data_version=DataVersion("-".join(result.file_sha256)))

    return raw_reference


raw_assets = [_partitioned_raw_asset(source) for source in PARTITIONED_SOURCES]
reference_assets = [_reference_raw_asset(source) for source in REFERENCE_SOURCES]

ingest_cohort_job = define_asset_job(
    name="ingest_cohort_job",
    selection=AssetSelection.assets(*raw_assets),
    description="Load one cohort year's deliveries into the raw tables (unchanged files are no-ops).",
    hooks={report_root_cause},
)

ingest_reference_job = define_asset_job(
    name="ingest_reference_job",
    selection=AssetSelection.assets(*reference_assets),
    description="Load the SSB and KLASS reference files into their raw tables.",
    hooks={report_root_cause},
)
