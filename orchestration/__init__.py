"""Dagster definitions for the integration warehouse: thin glue over iwh, dbt, expectations and analysis."""
