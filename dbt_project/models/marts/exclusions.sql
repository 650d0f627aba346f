{#- Quarantine reasons in the order ingestion checks them; a row with several problems is counted
    once, under the first. -#}
{%- set quarantine_reasons = ['invalid_identifier', 'invalid_date', 'date_outside_cohort', 'code_outside_list',
                              'unknown_label', 'unknown_municipality', 'duplicate_person', 'invalid_number'] -%}

-- The auditors' denominator, traceable: per programme, cohort year and delivered file, the rows
-- delivered, then each step that removes rows with its reason, down to the modelled complete cases.
-- For every (programme, cohort_year, source_file):
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

steps as (
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

    union all
    select
        programme,
        cohort_year,
        source_file,
        5 as step_order,
        'excluded' as step,
        excluded_reason as reason,
        count(*) as n_rows
    from {{ ref('analysis_dataset') }}
    where not complete_case
    group by all

    union all
    select
        programme,
        cohort_year,
        source_file,
        6 as step_order,
        'modelled' as step,
        null as reason,
        count(*) as n_rows
    from {{ ref('analysis_dataset') }}
    where complete_case
    group by all
)

select
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
