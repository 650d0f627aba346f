"""Earlier validation results of identical batches, so an unchanged partition is not validated again.

A result is reused only under its fingerprint: a SHA-256 over the exact frame GX would see
(its Arrow serialisation: column names, types and every value), the suite's expectations,
the expectation parameters, the result format, the batch name and the GX and pandas versions.
Anything that could change a result changes the fingerprint, so a changed partition, a new
threshold, an extended code list or an upgraded GX is validated afresh; a stale result has no
key to be found under.

The index lives next to GX's validation store (``gx_root/reuse/<fingerprint>.json``) and
names the stored result it stands for; a result missing from the store is validated again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd
import pyarrow as pa
from great_expectations.data_context.types.resource_identifiers import ValidationResultIdentifier
from great_expectations.exceptions import InvalidKeyError, StoreBackendError

# Bumped when what a stored result means to this package changes, so older entries stop matching.
INDEX_VERSION = 1


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


def stored_result(store, identifier: ValidationResultIdentifier):
    """A stored validation result as GX wrote it (its JSON), or None when it is not in the store.

    Read as JSON rather than through the store: GX's schema rebuilds every expectation
    result as objects, which costs more than the validation of a small batch."""
    try:
        text = store.store_backend.get(store.key_to_tuple(identifier))
    except (InvalidKeyError, StoreBackendError, FileNotFoundError):
        return None
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


class ResultIndex:
    """Fingerprint → identifier of the stored validation result it produced."""

    def __init__(self, gx_root: Path, store) -> None:
        self.directory = gx_root / "reuse"
        self.store = store

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def find(self, key: str) -> tuple[ValidationResultIdentifier, dict] | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None
        if entry.get("fingerprint") != key:
            return None
        identifier = ValidationResultIdentifier.from_tuple(tuple(entry["validation_result"]))
        result = stored_result(self.store, identifier)
        if not isinstance(result, dict) or not isinstance(result.get("results"), list):
            return None
        return identifier, result

    def remember(self, key: str, identifier: ValidationResultIdentifier) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        entry = {"fingerprint": key, "validation_result": list(identifier.to_tuple())}
        # Written aside and renamed, so a run that dies mid-write leaves no half entry.
        temporary = self._path(key).with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(entry), encoding="utf-8")
        temporary.replace(self._path(key))
