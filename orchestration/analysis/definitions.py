"""Analysis: the models and the analysis report."""

from dagster import Definitions

from orchestration.analysis.assets import assets
from orchestration.analysis.resources import ReportWorkersResource

defs = Definitions(assets=assets, resources={"report_workers": ReportWorkersResource()})
