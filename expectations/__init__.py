"""Data quality: Great Expectations suites as code, the checkpoint runner, the missingness
tables (report tables 15–16), Data Docs and the auditors' report.

Plain Python on a DuckDB connection; the Dagster glue is ``orchestration.quality``.

- ``suites``: every suite, its expectations, severities and thresholds (and why).
- ``batches``: the SQL that turns warehouse tables into the frames GX validates, per partition.
- ``checkpoints``: one GX checkpoint per frame and partition; results as warehouse rows.
- ``explain``: file, row and column of what failed, without identifiers.
- ``missingness``: quality.missingness, with small-cell suppression.
- ``data_docs`` and ``auditors_report``: the HTML under ``IWH_HOME/reports/``.
- ``run.validate_warehouse``: all of the above, in order.

A new suite is a ``Suite`` in ``suites.SUITES`` over an existing or new ``BatchSource``.
"""
