"""Quality: the GX checkpoints and the blocking gate on marts.analysis_dataset."""

from dagster import Definitions

from orchestration.quality.assets import assets, checks

defs = Definitions(assets=assets, asset_checks=checks)
