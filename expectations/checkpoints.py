"""Run the suites through GX validators and turn the results into warehouse rows.

One GX validator per batch source and partition (``raw.nir_deltakere accepted rows 2019``)
runs every suite that reads that frame, except the suites that validated an identical frame
before: their earlier result stands (``expectations.reuse``), so a new cohort year costs the
validation of that year, not of every year. Each result is stored as a GX checkpoint stores
it, in a validation store that is file-backed under ``IWH_HOME/gx`` so it, and with it the
Data Docs index, keeps every validation ever run.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import great_expectations as gx
from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
from great_expectations.core.batch_definition import BatchDefinition
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
from great_expectations.validator.v1_validator import Validator

from expectations import explain, reuse
from expectations.batches import Batch
from expectations.suites import SUITES, BatchSource, Suite, batch_sources, resolve_parameter

DATASOURCE = "warehouse"
DOCS_SITE = "quality"
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
    """A GX context whose suites and checkpoints live in memory (they are code, rebuilt every
    run) and whose validation results persist under ``gx_root``, so the Data Docs site in
    ``docs_dir`` lists every run. A file-backed project would re-read its YAML on every store
    access, which costs more than the validations themselves."""
    gx_root.mkdir(parents=True, exist_ok=True)
    docs_dir.mkdir(parents=True, exist_ok=True)
    defaults = InMemoryStoreBackendDefaults()
    defaults.stores[defaults.validation_results_store_name]["store_backend"] = {
        "class_name": "TupleFilesystemStoreBackend",
        "base_directory": str(gx_root / "validations"),
    }
    config = DataContextConfig(
        store_backend_defaults=defaults,
        data_docs_sites={
            DOCS_SITE: {
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder", "show_how_to_buttons": False},
            }
        },
        progress_bars=ProgressBarsConfig(globally=False),
        analytics_enabled=False,
    )
    return gx.get_context(mode="ephemeral", project_config=config)


# Counts without values: for this, BASIC gives the very result SUMMARY would, and GX plans
# about 40 % less work per expectation for it.
COUNTS_ONLY = {"result_format": "BASIC", "partial_unexpected_count": 0}


def _result_format(source: BatchSource) -> dict:
    """Unexpected values with their counts, never row lists: GX builds those in Python at
    seconds per thousand rows, so file and row come from ``explain`` instead."""
    if source.carries_identifier or source.counts_only:
        return COUNTS_ONLY
    return {"result_format": "SUMMARY", "partial_unexpected_count": UNEXPECTED_VALUES_SHOWN}


def _batch_definition(datasource, batch_name: str, partition: str) -> BatchDefinition:
    """The whole frame as a batch named by dataset and partition, so Data Docs show which
    partition a page is about. Like GX's own ``Batch.validate``, the definition is not added to
    the asset: nothing looks it up again, and adding it writes the project configuration anew."""
    definition = BatchDefinition(name=partition, partitioner=None)
    definition.set_data_asset(datasource.add_dataframe_asset(batch_name))
    return definition


def _register_suite(context, suite: Suite) -> gx.ExpectationSuite:
    gx_suite = gx.ExpectationSuite(
        name=suite.name,
        expectations=[copy.deepcopy(expectation) for expectation in suite.build_expectations()],
        meta={"dataset": suite.dataset, "description": suite.description},
    )
    return context.suites.add(gx_suite)


@dataclass(frozen=True)
class CheckpointRun:
    records: list[ValidationRecord]
    # Results whose Data Docs page this run must render: the ones it validated, and reused
    # ones whose page is missing from the site.
    result_identifiers: list
    # (suite, partition) whose result came from an earlier validation of identical data.
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
    ``expectations.reuse``) takes that result instead of validating again; its records are
    rebuilt from it like fresh ones, and link to the Data Docs page of the validation that
    produced it."""
    # The context is new every run (suites are code), so everything is added, never updated:
    # add_or_update compares every expectation of every suite, which costs more than validating.
    gx_suites = {suite.name: _register_suite(context, suite) for suite in suites}
    definitions = {name: reuse.suite_definition(gx_suite) for name, gx_suite in gx_suites.items()}
    index = reuse.ResultIndex(gx_root, context.validation_results_store) if gx_root is not None else None
    datasource = context.data_sources.add_pandas(DATASOURCE)
    run_time = dt.datetime.now(dt.UTC)
    gx_run_id = RunIdentifier(run_name=run_id, run_time=run_time)
    records: list[ValidationRecord] = []
    identifiers = []
    reused = []
    for source in batch_sources(suites):
        source_suites = [suite for suite in suites if suite.source is source]
        result_format = _result_format(source)
        for batch in source.build(con):
            batch_name = f"{source.name} {batch.partition}"
            results = {}
            keys = {}
            if index is not None:
                frame_sha256 = reuse.frame_digest(batch.frame)
                for suite in source_suites:
                    keys[suite.name] = reuse.fingerprint(
                        definitions[suite.name], batch_name, frame_sha256, batch.parameters, result_format
                    )
                    earlier = index.find(keys[suite.name])
                    if earlier is not None:
                        results[suite.name] = earlier
                        reused.append((suite.name, batch.partition))
                        if docs_dir is not None and not (docs_dir / docs_page(earlier[0])).is_file():
                            identifiers.append(earlier[0])
            to_validate = [suite for suite in source_suites if suite.name not in results]
            if to_validate:
                for identifier, result in _validate(
                    context, datasource, gx_suites, to_validate, batch_name, batch, result_format, gx_run_id
                ).items():
                    identifiers.append(identifier)
                    results[result["suite_name"]] = (identifier, result)
                    if index is not None and not _raised(result):
                        index.remember(keys[result["suite_name"]], identifier)
            for suite in source_suites:
                identifier, suite_result = results[suite.name]
                page = docs_page(identifier)
                for expectation_result in suite_result["results"]:
                    records.append(_record(con, run_id, run_time, suite, batch, expectation_result, page))
    return CheckpointRun(records=records, result_identifiers=identifiers, reused=reused)


def _validate(
    context,
    datasource,
    gx_suites,
    suites: Sequence[Suite],
    batch_name: str,
    batch: Batch,
    result_format: dict,
    gx_run_id: RunIdentifier,
) -> dict:
    """Validate ``suites`` on the batch and store each result under the key a checkpoint would;
    each result is returned as stored, like a reused one.

    One validator loads the batch once for every suite. A GX checkpoint would do the same work
    around it: check that each stored object equals its in-memory one and serialise it, which
    costs a third of the validation itself and means nothing in an ephemeral context."""
    validator = Validator(
        batch_definition=_batch_definition(datasource, batch_name, batch.partition),
        batch_parameters={"dataframe": batch.frame},
    )
    results = {}
    for suite in suites:
        result = _validate_suite(validator, gx_suites[suite.name], batch.parameters, result_format)
        result.meta["run_id"] = gx_run_id
        result.meta["validation_time"] = gx_run_id.run_time
        result.meta["batch_parameters"] = {"dataframe": DATAFRAME_REPLACEMENT_STR}
        suite_identifier = ExpectationSuiteIdentifier(name=suite.name)
        identifier = ValidationResultIdentifier(
            expectation_suite_identifier=suite_identifier, run_id=gx_run_id, batch_identifier=validator.active_batch_id
        )
        context.validation_results_store.store_validation_results(result, identifier, suite_identifier)
        results[identifier] = reuse.stored_result(context.validation_results_store, identifier)
    return results


def _validate_suite(validator: Validator, gx_suite: gx.ExpectationSuite, parameters: dict, result_format: dict):
    """The suite's result in ``result_format``, with as little GX planning as that allows.

    An expectation that found no unexpected value has nothing to list, so the suite is validated
    for counts only, and only the expectations that found some are validated again for their
    values (GX's result then differs from a whole-suite run only by the empty lists it leaves out)."""
    validator.result_format = COUNTS_ONLY
    result = validator.validate_expectation_suite(gx_suite, parameters)
    if result_format == COUNTS_ONLY:
        return result
    validator.result_format = result_format
    expectations = {expectation.id: expectation for expectation in gx_suite.expectations}
    result.results = [
        validator.validate_expectation(expectations[outcome.expectation_config.id], parameters)
        if (outcome.result or {}).get("unexpected_count") != 0
        else outcome
        for outcome in result.results
    ]
    return result


def _raised(suite_result: dict) -> bool:
    """Whether an expectation raised: such a result is not reused, the error may not recur."""
    return any(_exception_message(result.get("exception_info") or {}) for result in suite_result["results"])


def docs_page(identifier) -> str:
    """Where the Data Docs site keeps a validation result's page, relative to the site root."""
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


def _record(con, run_id, run_time, suite: Suite, batch: Batch, expectation_result: dict, page) -> ValidationRecord:
    """The row of one expectation result, given as GX stores it (JSON)."""
    config = expectation_result["expectation_config"]
    kind = config["type"]
    kwargs = dict(config["kwargs"])
    meta = dict(config.get("meta") or {})
    result = expectation_result.get("result") or {}
    error = _exception_message(expectation_result.get("exception_info") or {})
    column = kwargs.get("column")
    observed = f"error: {error}" if error else describe_observed(kind, result)
    details = None
    if not expectation_result["success"] and not error:
        details = explain.details(con, suite, batch, kind, kwargs, meta)
        if suite.source.describes_units and details:
            observed = _first_units(details)
    unexpected_percent = result.get("unexpected_percent")
    return ValidationRecord(
        run_id=run_id,
        validated_at=run_time,
        suite=suite.name,
        dataset=suite.dataset,
        partition=batch.partition,
        expectation=kind,
        column_name=column,
        severity=FailureSeverity(config["severity"]).value,
        success=bool(expectation_result["success"]),
        observed_value=observed,
        threshold=describe_threshold(kind, kwargs, meta, batch.parameters),
        element_count=result.get("element_count"),
        unexpected_count=result.get("unexpected_count"),
        unexpected_percent=None if unexpected_percent is None or math.isnan(unexpected_percent) else unexpected_percent,
        details=details,
        data_docs_page=page,
    )
