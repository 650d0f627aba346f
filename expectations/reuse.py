"""Earlier validation results of identical batches, so an unchanged partition is not validated again.

A result is reused only under its fingerprint: a SHA-256 over the exact frame GX would see
(its Arrow serialisation: column names, types and every value), the suite's expectations,
the expectation parameters, the result format, the batch name and the GX and pandas versions.
Anything that could change a result changes the fingerprint, so a changed partition, a new
threshold, an extended code list or an upgraded GX is validated afresh; a stale result has no
key to be found under.

The index is ours, not GX's: ``gx_root/reuse/<fingerprint>.json`` holds the rows this package
wrote for the result and the identifier of the result in GX's validation store, whose Data Docs
page the rows link to. A result GX's store no longer holds is validated again (GX's site builder
drops the pages of results it cannot find).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier

# Bumped when what an entry holds or means changes, so older entries stop matching.
INDEX_VERSION = 2


@dataclass(frozen=True)
class Reusable:
    identifier: ValidationResultIdentifier
    # quality.validation_results rows without run_id and validated_at.
    rows: list[dict]


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the frame's Arrow IPC stream, schema (with pandas dtypes) included."""
    table = pa.Table.from_pandas(frame, preserve_index=True)
    # A frame cut from a larger one (a groupby group) keeps the parent's string buffers, and IPC
    # writes them whole; taking every row copies the frame into buffers of its own content.
    table = table.take(pa.array(np.arange(table.num_rows)))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue()).hexdigest()


def suite_definition(gx_suite: gx.ExpectationSuite) -> dict:
    """The suite as it judges data: name, meta and every expectation without its generated id."""
    expectations = []
    for expectation in gx_suite.expectations:
        configuration = expectation.configuration.to_json_dict()
        configuration.pop("id", None)
        expectations.append(configuration)
    return {"name": gx_suite.name, "meta": gx_suite.meta, "expectations": expectations}


def fingerprint(suite: dict, batch_name: str, frame_sha256: str, parameters: dict, result_format: dict) -> str:
    content = {
        "index_version": INDEX_VERSION,
        "great_expectations": gx.__version__,
        "pandas": pd.__version__,
        "suite": suite,
        "batch": batch_name,
        "frame_sha256": frame_sha256,
        "parameters": parameters,
        "result_format": result_format,
    }
    encoded = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


class ResultIndex:
    """Fingerprint → the identifier of the validation result it produced and the rows written from it.

    The rows are kept as written (less the run's id and time), so a reused result costs neither
    GX nor the explanation queries; the identifier says which Data Docs page the rows link to."""

    def __init__(self, gx_root: Path) -> None:
        self.directory = gx_root / "reuse"

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def find(self, key: str) -> Reusable | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
        if entry.get("fingerprint") != key or not isinstance(entry.get("rows"), list):
            return None
        return Reusable(ValidationResultIdentifier.from_tuple(tuple(entry["validation_result"])), entry["rows"])

    def remember(self, key: str, identifier: ValidationResultIdentifier, rows: list[dict]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"fingerprint": key, "validation_result": list(identifier.to_tuple()), "rows": rows}
        # Written aside and renamed, so a run that dies mid-write leaves no half entry.
        temporary = self._path(key).with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
        temporary.replace(self._path(key))
