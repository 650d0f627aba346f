"""Statistical models of models.md (M1, M2, M3) on pandas DataFrames; no Dagster imports."""
