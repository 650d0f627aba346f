{{ config(meta={'critical': true, 'dagster': {'ref': {'name': 'exclusions'}}}) }}
-- The auditors' denominator: for every outcome, programme, cohort year and delivered file, delivered rows =
-- modelled rows + every excluded row by reason, and the exits in the middle agree with both sides
-- and with marts.participant_exits. Returns the files where any of that fails.
with steps as (
    select
        outcome,
        programme,
        cohort_year,
        source_file,
        sum(n_rows) filter (where step = 'delivered') as delivered,
        coalesce(sum(n_rows) filter (where step in ('quarantined', 'not_an_exit')), 0) as removed_before_exit,
        coalesce(sum(n_rows) filter (where step = 'excluded'), 0) as excluded,
        coalesce(sum(n_rows) filter (where step = 'participant_exits'), 0) as exits,
        coalesce(sum(n_rows) filter (where step = 'modelled'), 0) as modelled
    from {{ ref('exclusions') }}
    group by outcome, programme, cohort_year, source_file
),

exits as (
    select
        programme,
        cohort_year,
        source_file,
        count(*) as n_rows
    from {{ ref('participant_exits') }}
    group by programme, cohort_year, source_file
)

select
    steps.*,
    exits.n_rows as participant_exits_rows
from steps
full outer join exits
    on
        steps.programme = exits.programme
        and steps.cohort_year = exits.cohort_year
        and steps.source_file = exits.source_file
where
    steps.delivered is distinct from steps.removed_before_exit + steps.excluded + steps.modelled
    or steps.exits is distinct from steps.delivered - steps.removed_before_exit
    or coalesce(exits.n_rows, 0) is distinct from steps.exits
