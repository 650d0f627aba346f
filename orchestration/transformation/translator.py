"""How dbt resources appear in Dagster: raw sources are the ingestion assets, models are keyed by
their warehouse schema, and the blocking dbt tests are asset checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

# Tests configured with `meta: {critical: true}` guard the harmonised variables (keys, unmapped
# labels, the exclusions reconciliation); they are the dbt tests Dagster shows as blocking checks.
CRITICAL_METADATA_KEY = "iwh/critical"


def is_critical_test(test: Mapping[str, Any]) -> bool:
    """Whether a dbt test of the manifest is configured `meta: {critical: true}`."""
    meta = test.get("config", {}).get("meta") or test.get("meta") or {}
    return bool(meta.get("critical"))


def is_checked_test(test: Mapping[str, Any]) -> bool:
    """The dbt tests Dagster shows as asset checks: the critical ones, which block, and those of
    severity warn, whose warnings would otherwise pass unseen (they do not fail the build)."""
    return is_critical_test(test) or test.get("config", {}).get("severity", "").lower() == "warn"


class WarehouseDbtTranslator(DagsterDbtTranslator):
    def __init__(self) -> None:
        super().__init__(DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            # raw.<table> is materialised by orchestration/ingestion under the key ["raw", <table>];
            # quality.quarantine is written by the same ingestion runs.
            return AssetKey([dbt_resource_props["schema"], dbt_resource_props["identifier"]])
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        return dbt_resource_props["schema"]

    def get_asset_check_spec(
        self, asset_spec: AssetSpec, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> AssetCheckSpec | None:
        """Only the tests of is_checked_test: every check result is a run of Dagster events, and
        the other tests need none (a failing one fails the dbt build; every result is in
        run_results.json)."""
        test = manifest["nodes"][unique_id]
        check = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if check is None or not is_checked_test(test):
            return None
        critical = is_critical_test(test)
        return AssetCheckSpec(
            name=check.name,
            asset=check.asset_key,
            description=test.get("description") or check.description,
            additional_deps=check.additional_deps,
            metadata={**check.metadata, CRITICAL_METADATA_KEY: critical},
            blocking=critical,
        )


def is_critical(check_spec: AssetCheckSpec) -> bool:
    return bool(check_spec.metadata.get(CRITICAL_METADATA_KEY))
