{#- Quarantine reasons in the order ingestion checks them; a row with several problems is counted
    once, under the first. -#}
{%- set quarantine_reasons = ['invalid_identifier', 'invalid_date', 'date_outside_cohort', 'code_outside_list',
                              'unknown_label', 'unknown_municipality', 'duplicate_person', 'invalid_number'] -%}

-- The auditors' denominator, traceable: per outcome, programme, cohort year and delivered file, the
-- rows delivered, then each step that removes rows with its reason, down to the modelled complete
-- cases. Steps 1-4 are the same for both outcomes and repeated under each, so each outcome's
-- funnel is complete on its own. For every (outcome, programme, cohort_year, source_file):
--   delivered = quarantined + not_an_exit + excluded (all reasons) + modelled
--   participant_exits = delivered − quarantined − not_an_exit
with delivered as (
    select
        'jobbsjansen' as programme,
        cohort_year,
        _source_file as source_file,
        _file_sha256,
        _row_number
    from {{ source('jobbsjansen', 'individrapportering') }}
    union all
    select
        'intro' as programme,
        cohort_year,
        _source_file as source_file,
        _file_sha256,
        _row_number
    from {{ source('nir', 'deltakere') }}
),

quarantine_first_reason as (
    select
        file_sha256,
        row_number,
        arg_min(
            reason,
            list_position(
                {{ quarantine_reasons }},
                reason
            )
        ) as reason
    from {{ source('quality', 'quarantine') }}
    group by file_sha256, row_number
),

exit_steps as (
    select
        programme,
        cohort_year,
        source_file,
        1 as step_order,
        'delivered' as step,
        cast(null as varchar) as reason,
        count(*) as n_rows
    from delivered
    group by all

    union all
    select
        delivered.programme,
        delivered.cohort_year,
        delivered.source_file,
        2 as step_order,
        'quarantined' as step,
        quarantine_first_reason.reason,
        count(*) as n_rows
    from delivered
    inner join quarantine_first_reason
        on
            delivered._file_sha256 = quarantine_first_reason.file_sha256
            and delivered._row_number = quarantine_first_reason.row_number
    group by all

    union all
    select
        'jobbsjansen' as programme,
        cohort_year,
        source_file,
        3 as step_order,
        'not_an_exit' as step,
        case deltar_ved_aarsslutt
            when 1 then 'continuing'
            when 3 then 'on_leave'
            else 'exit_status_missing'
        end as reason,
        count(*) as n_rows
    from {{ ref('stg_jobbsjansen__individrapportering') }}
    where deltar_ved_aarsslutt is distinct from 2
    group by all

    union all
    select
        programme,
        cohort_year,
        source_file,
        4 as step_order,
        'participant_exits' as step,
        null as reason,
        count(*) as n_rows
    from {{ ref('analysis_dataset') }}
    group by all
),

-- Steps 5 (excluded, by first reason) and 6 (modelled) of each outcome.
outcome_steps as (
    select
        'maloppnaelse' as outcome,
        programme,
        cohort_year,
        source_file,
        case when complete_case then 6 else 5 end as step_order,
        case when complete_case then 'modelled' else 'excluded' end as step,
        excluded_reason as reason,
        count(*) as n_rows
    from {{ ref('analysis_dataset') }}
    group by all

    union all
    select
        'arbeid_utdanning_1aar' as outcome,
        programme,
        cohort_year,
        source_file,
        case when complete_case_1aar then 6 else 5 end as step_order,
        case when complete_case_1aar then 'modelled' else 'excluded' end as step,
        excluded_reason_1aar as reason,
        count(*) as n_rows
    from {{ ref('analysis_dataset') }}
    group by all
),

outcomes as (
    select distinct outcome from outcome_steps
),

steps as (
    select
        outcomes.outcome,
        exit_steps.*
    from exit_steps
    cross join outcomes

    union all
    select * from outcome_steps
)

select
    outcome,
    programme,
    cohort_year,
    source_file,
    step_order,
    step,
    reason,
    n_rows,
    '{{ outcome_variant() }}' as outcome_variant,
    '{{ js_scope() }}' as js_scope
from steps
