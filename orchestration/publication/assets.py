"""Publication: exports for R/Stata/SPSS users, then the atomic swap of the analysts' snapshot."""

import json
from collections.abc import Sequence

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, MaterializeResult, asset

from iwh.exports import write_exports
from iwh.publication import publish, remove_stale_incoming
from orchestration.resources import WarehouseResource
from orchestration.transformation.project import prepare_manifest

EXPORTS_KEY = AssetKey(["exports", "analysis_files"])
SNAPSHOT_KEY = AssetKey(["publication", "published_snapshot"])
POSTGRES_KEY = AssetKey(["publication", "postgres_warehouse"])


def build_publication_assets(upstream_keys: Sequence[AssetKey]) -> list[AssetsDefinition]:
    """Exports and the snapshot depend on every other asset, so a failed step or blocking
    check anywhere upstream skips them and the published snapshot stays as it was."""
    upstream = sorted(set(upstream_keys), key=lambda key: key.to_user_string())

    @asset(
        key=EXPORTS_KEY,
        deps=upstream,
        group_name="publication",
        description=(
            "marts.analysis_dataset and the analysis.* tables as Parquet and Stata .dta (variable labels from the "
            "dbt docs, value labels, extended missing values) and their codebook under IWH_HOME/exports."
        ),
    )
    def analysis_files(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        settings = warehouse.settings()
        with warehouse.connect(read_only=True) as con:
            written = write_exports(
                con,
                settings.exports_dir,
                manifest=json.loads(prepare_manifest(settings).read_text()),
                run_id=context.run.run_id,
                language=settings.report_language,
                synthetic=settings.is_synthetic_landing,
            )
        context.log.info(f"wrote {len(written)} export files to {settings.exports_dir}")
        return MaterializeResult(metadata={"files": len(written), "directory": str(settings.exports_dir)})

    @asset(
        key=SNAPSHOT_KEY,
        deps=[EXPORTS_KEY, *upstream],
        group_name="publication",
        description=(
            "The analysts' read-only copy of the warehouse, replaced atomically only when every upstream step and "
            "blocking check succeeded; the previous snapshot is kept beside it."
        ),
    )
    def published_snapshot(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        settings = warehouse.settings()
        stale = remove_stale_incoming(settings)
        if stale:
            context.log.warning(f"removed {len(stale)} temporary file(s) left by an interrupted publication")
        snapshot = publish(settings)
        return MaterializeResult(metadata={"path": str(snapshot.path), "size_mb": round(snapshot.size_bytes / 1e6, 1)})

    @asset(
        key=POSTGRES_KEY,
        deps=[SNAPSHOT_KEY],
        group_name="publication",
        description=(
            "marts, analysis and quality copied from the published snapshot to the shared PostgreSQL warehouse "
            "(IWH_POSTGRES_URL) and swapped in whole; nothing to do when IWH_POSTGRES_URL is not set."
        ),
    )
    def postgres_warehouse(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        settings = warehouse.settings()
        if not settings.postgres_url:
            context.log.info("IWH_POSTGRES_URL is not set: no PostgreSQL publication")
            return MaterializeResult(metadata={"published": False})
        from iwh.postgres import publish as publish_to_postgres

        publication = publish_to_postgres(
            settings.postgres_url, settings.published_path, settings.home, progress=context.log.debug
        )
        if publication.retired_left:
            context.log.info(
                f"{len(publication.retired_left)} retired schema(s) are still being read; the next publication "
                "drops them"
            )
        return MaterializeResult(
            metadata={
                "published": True,
                "tables": len(publication.tables),
                "rows": sum(table.rows for table in publication.tables),
                "seconds": round(publication.seconds, 1),
            }
        )

    return [analysis_files, published_snapshot, postgres_warehouse]
