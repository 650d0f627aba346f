"""Analysis: the models and the analysis report."""

from dagster import Definitions

from orchestration.analysis.assets import assets

defs = Definitions(assets=assets)
