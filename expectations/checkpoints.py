"""Run the suites through GX checkpoints and turn the results into warehouse rows.

One GX checkpoint per batch source and partition (``raw.nir_deltakere accepted rows 2019``)
holds a validation definition for every suite that reads that frame, except the suites that
validated an identical frame before: their earlier rows stand (``expectations.reuse``), so a
new cohort year costs the validation of that year, not of every year. The checkpoint stores
each result in GX's validation store, file-backed under ``IWH_HOME/gx`` so it, and with it the
Data Docs index, keeps every validation ever run; the rows come from the ``CheckpointResult``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)
from great_expectations.expectations.metadata_types import FailureSeverity

from expectations import data_docs, explain, reuse
from expectations.batches import Batch
from expectations.suites import SUITES, BatchSource, Suite, batch_sources, resolve_parameter

DATASOURCE = "warehouse"
UNEXPECTED_VALUES_SHOWN = 20


@dataclass(frozen=True)
class ValidationRecord:
    """One row of quality.validation_results."""

    run_id: str
    validated_at: dt.datetime
    suite: str
    dataset: str
    partition: str
    expectation: str
    column_name: str | None
    severity: str
    success: bool
    observed_value: str
    threshold: str
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    details: str | None
    data_docs_page: str | None


def open_context(gx_root: Path, docs_dir: Path):
    """A GX context whose suites, validation definitions and checkpoints live in memory (they
    are code, rebuilt every run) and whose validation results persist under ``gx_root``, so the
    Data Docs site in ``docs_dir`` lists every run. A file-backed project would write its YAML
    on every add, which costs more than the validations themselves."""
    gx_root.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    defaults = InMemoryStoreBackendDefaults()
    defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(gx_root / "validations"),
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites={data_docs.DOCS_SITE: data_docs.site_config(docs_dir)},
        plugins_directory=str(data_docs.PLUGINS_DIRECTORY),
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


def release_batches(context) -> None:
    """Drop the data source the checkpoints validated through, and with it the batches it holds."""
    if DATASOURCE in context.data_sources.all():
        context.data_sources.delete(DATASOURCE)


def _result_format(source: BatchSource) -> dict:
    """Unexpected values with their counts, never row lists: GX builds those in Python at
    seconds per thousand rows, so file and row come from ``explain`` instead. A frame that
    carries person keys gives counts only, so no key reaches a result or a page."""
    if source.carries_identifier or source.counts_only:
        return {"result_format": "BASIC", "partial_unexpected_count": 0}
    return {"result_format": "SUMMARY", "partial_unexpected_count": UNEXPECTED_VALUES_SHOWN}


def _register_suite(context, suite: Suite) -> gx.ExpectationSuite:
    gx_suite = gx.ExpectationSuite(
        name=suite.name,
        expectations=suite.build_expectations(),
        meta={"dataset": suite.dataset, "description": suite.description},
    )
    return context.suites.add(gx_suite)


@dataclass(frozen=True)
class CheckpointRun:
    records: list[ValidationRecord]
    # What this run must render in Data Docs: the results it validated, reused ones whose page
    # is missing from the site, and the pages of the suites it validated with.
    resource_identifiers: list
    # (suite, partition) whose rows came from an earlier validation of identical data.
    reused: list[tuple[str, str]]


def run_checkpoints(
    con: duckdb.DuckDBPyConnection,
    context,
    run_id: str,
    suites: Sequence[Suite] = SUITES,
    gx_root: Path | None = None,
    docs_dir: Path | None = None,
) -> CheckpointRun:
    """Validate every partition of every suite's dataset: one record per expectation × partition.

    With ``gx_root``, a suite whose batch is identical to one validated before (see
    ``expectations.reuse``) takes that validation's rows instead of validating again; they link
    to the Data Docs page of the validation that produced them."""
    # The context is new every run (suites are code), so everything is added, never updated.
    gx_suites = {suite.name: _register_suite(context, suite) for suite in suites}
    definitions = {name: reuse.suite_definition(gx_suite) for name, gx_suite in gx_suites.items()}
    index = reuse.ResultIndex(gx_root) if gx_root is not None else None
    datasource = context.data_sources.add_pandas(DATASOURCE)
    run_time = dt.datetime.now(dt.UTC)
    gx_run_id = RunIdentifier(run_name=run_id, run_time=run_time)
    records: list[ValidationRecord] = []
    identifiers: list = []
    validated_suites: set[str] = set()
    reused = []
    for source in batch_sources(suites):
        source_suites = [suite for suite in suites if suite.source is source]
        result_format = _result_format(source)
        for batch in source.build(con):
            batch_name = f"{source.name} {batch.partition}"
            rows: dict[str, list[dict]] = {}
            keys: dict[str, str] = {}
            if index is not None:
                frame_sha256 = reuse.frame_digest(batch.frame)
                for suite in source_suites:
                    keys[suite.name] = reuse.fingerprint(
                        definitions[suite.name], batch_name, frame_sha256, batch.parameters, result_format
                    )
                    earlier = index.find(keys[suite.name])
                    if earlier is None or not context.validation_results_store.has_key(earlier.identifier):
                        continue
                    rows[suite.name] = earlier.rows
                    reused.append((suite.name, batch.partition))
                    if docs_dir is not None and not (docs_dir / docs_page(earlier.identifier)).is_file():
                        identifiers.append(earlier.identifier)
            to_validate = [suite for suite in source_suites if suite.name not in rows]
            if to_validate:
                checkpoint = _checkpoint(
                    context, datasource, gx_suites, to_validate, batch_name, batch.partition, result_format
                )
                result = checkpoint.run(
                    batch_parameters={"dataframe": batch.frame},
                    expectation_parameters=batch.parameters,
                    run_id=gx_run_id,
                )
                by_name = {suite.name: suite for suite in to_validate}
                for identifier, suite_result in result.run_results.items():
                    suite = by_name[suite_result.suite_name]
                    page = docs_page(identifier)
                    rows[suite.name] = [
                        _row(con, suite, batch, expectation_result, page) for expectation_result in suite_result.results
                    ]
                    identifiers.append(identifier)
                    validated_suites.add(suite.name)
                    if index is not None and not _raised(suite_result):
                        index.remember(keys[suite.name], identifier, rows[suite.name])
            for suite in source_suites:
                records.extend(
                    ValidationRecord(run_id=run_id, validated_at=run_time, **row) for row in rows[suite.name]
                )
    identifiers.extend(ExpectationSuiteIdentifier(name=name) for name in sorted(validated_suites))
    return CheckpointRun(records=records, resource_identifiers=identifiers, reused=reused)


def _checkpoint(
    context, datasource, gx_suites, suites: Sequence[Suite], batch_name: str, partition: str, result_format: dict
) -> gx.Checkpoint:
    """A checkpoint validating ``suites`` on one frame, given at run time as its batch parameter.

    The asset is named by dataset and partition, which GX uses as the result's batch identifier,
    so Data Docs show which partition a page is about. Data Docs are built once for the whole
    run (``expectations.data_docs``), not by an action per checkpoint: each build writes the index
    anew, reading every result ever stored."""
    batch_definition = datasource.add_dataframe_asset(batch_name).add_batch_definition_whole_dataframe(partition)
    definitions = [
        context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"{suite.name} | {batch_name}", data=batch_definition, suite=gx_suites[suite.name]
            )
        )
        for suite in suites
    ]
    return context.checkpoints.add(
        gx.Checkpoint(name=batch_name, validation_definitions=definitions, result_format=result_format)
    )


def _raised(suite_result) -> bool:
    """Whether an expectation raised: such a result is not reused, the error may not recur."""
    return any(_exception_message(result.exception_info or {}) for result in suite_result.results)


def docs_page(identifier: ValidationResultIdentifier) -> str:
    """Where GX's Data Docs site keeps a validation result's page, relative to the site root."""
    return "validations/" + "/".join(identifier.to_tuple()) + ".html"


def _number(value) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}".replace(",", " ") if isinstance(value, int) else f"{value:g}"


def describe_threshold(kind: str, kwargs: dict, meta: dict, parameters: dict) -> str:
    if kind == "expect_column_values_to_not_be_null":
        return f"missing ≤ {1 - kwargs.get('mostly', 1):.0%}"
    if kind == "expect_column_values_to_be_unique":
        return "unique"
    if kind == "expect_column_values_to_match_regex":
        return f"matches {kwargs['regex']}"
    if kind == "expect_column_values_to_be_in_set":
        values = resolve_parameter(kwargs["value_set"], parameters) or []
        if "code_list" in meta:
            return f"in seed {meta['code_list']} ({len(values)} values)"
        return "in {" + ", ".join(str(value) for value in values) + "}"
    if kind == "expect_column_values_to_be_between":
        low, high = (
            resolve_parameter(kwargs.get("min_value"), parameters),
            resolve_parameter(kwargs.get("max_value"), parameters),
        )
        if low is not None and high is not None:
            text = f"= {_number(low)}" if low == high else f"between {_number(low)} and {_number(high)}"
        else:
            text = f"≥ {_number(low)}" if low is not None else f"≤ {_number(high)}"
        return f"{text} ({meta['level']})" if "level" in meta else text
    return ", ".join(f"{key}={value}" for key, value in sorted(kwargs.items()) if key != "column")


def describe_observed(kind: str, result: dict) -> str:
    element_count = result.get("element_count")
    unexpected_count = result.get("unexpected_count")
    if element_count is None or unexpected_count is None:
        return str(result.get("observed_value", ""))
    if kind == "expect_column_values_to_not_be_null":
        share = unexpected_count / element_count if element_count else 0.0
        return f"missing {share:.1%} ({_number(unexpected_count)} of {_number(element_count)})"
    if kind == "expect_column_values_to_be_unique":
        return (
            f"{_number(unexpected_count)} of {_number(element_count)} rows belong to a person delivered more than once"
        )
    share = (result.get("unexpected_percent") or 0.0) / 100
    return f"{_number(unexpected_count)} of {_number(element_count)} values unexpected ({share:.2%})"


def _first_units(details: str, shown: int = 3) -> str:
    units = details.split("\n")
    more = f"; … and {len(units) - shown} more" if len(units) > shown else ""
    return "; ".join(units[:shown]) + more


def _exception_message(exception_info: dict) -> str | None:
    """GX reports an expectation that raised either flat or keyed by the metric that raised."""
    if exception_info.get("raised_exception"):
        return exception_info.get("exception_message") or "the expectation raised an exception"
    for info in exception_info.values():
        if isinstance(info, dict) and (info.get("raised_exception") or info.get("exception_traceback")):
            return info.get("exception_message") or "a metric raised an exception"
    return None


def _row(con, suite: Suite, batch: Batch, expectation_result, page: str) -> dict:
    """The quality.validation_results row of one ``ExpectationValidationResult``, less the run's
    id and time (a reused row takes those of the run that reuses it)."""
    config = expectation_result.expectation_config
    kind = config.type
    kwargs = dict(config.kwargs)
    meta = dict(config.meta or {})
    result = expectation_result.result or {}
    error = _exception_message(expectation_result.exception_info or {})
    observed = f"error: {error}" if error else describe_observed(kind, result)
    details = None
    if not expectation_result.success and not error:
        details = explain.details(con, suite, batch, kind, kwargs, meta)
        if suite.source.describes_units and details:
            observed = _first_units(details)
    unexpected_percent = result.get("unexpected_percent")
    return {
        "suite": suite.name,
        "dataset": suite.dataset,
        "partition": batch.partition,
        "expectation": kind,
        "column_name": kwargs.get("column"),
        "severity": FailureSeverity(config.severity).value,
        "success": bool(expectation_result.success),
        "observed_value": observed,
        "threshold": describe_threshold(kind, kwargs, meta, batch.parameters),
        "element_count": result.get("element_count"),
        "unexpected_count": result.get("unexpected_count"),
        "unexpected_percent": None
        if unexpected_percent is None or math.isnan(unexpected_percent)
        else float(unexpected_percent),
        "details": details,
        "data_docs_page": page,
    }
