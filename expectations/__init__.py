"""Data quality: Great Expectations suites as code, the checkpoint runner, the missingness
tables (report tables 15–16), Data Docs and the auditors' report.

Plain Python on a DuckDB connection; Dagster glue lives in ``orchestration.quality``.
"""
