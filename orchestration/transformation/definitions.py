"""Transformation: the dbt project as assets and asset checks, with its dbt resource."""

from dagster import Definitions

from orchestration.transformation.assets import dbt_warehouse_assets
from orchestration.transformation.resources import dbt_resource

defs = Definitions(assets=[dbt_warehouse_assets], resources={"dbt": dbt_resource()})
