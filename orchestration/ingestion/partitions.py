"""Cohort-year partitions: the years come from the files present, so a new year needs no code change."""

from __future__ import annotations

from dagster import DagsterInstance, DynamicPartitionsDefinition

from iwh.landing import LandingInventory

COHORT_PARTITIONS_NAME = "cohort_year"

cohort_partitions = DynamicPartitionsDefinition(name=COHORT_PARTITIONS_NAME)


def unregistered_cohort_years(instance: DagsterInstance, inventory: LandingInventory) -> list[str]:
    """Partition keys for delivered cohort years that the instance does not know yet."""
    known = set(instance.get_dynamic_partitions(COHORT_PARTITIONS_NAME))
    return [str(year) for year in inventory.cohort_years() if str(year) not in known]
