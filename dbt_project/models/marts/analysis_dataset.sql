{#- Reasons a row is out of the models, in priority order (docs/architecture.md): the first that
    applies is `excluded_reason`, all that apply are `excluded_reasons`. -#}
{%- set reasons = [
    ('outcome_excluded', 'outcome.outcome_excluded'),
    ('missing_outcome', 'exits.maloppnaelse is null and not coalesce(outcome.outcome_excluded, false)'),
    ('missing_spor', 'exits.spor is null'),
    ('missing_norsk_score', 'exits.norsk_score is null'),
    ('missing_fravaer_hoy', 'exits.fravaer_hoy is null'),
    ('missing_region', 'exits.region is null'),
    ('missing_botid', 'exits.botid is null'),
    ('missing_alder', 'exits.alder is null'),
    ('missing_varighet_mnd', 'exits.varighet_mnd is null'),
    ('missing_kjonn', 'exits.kjonn_mann is null'),
] -%}

-- Every ended participation with its municipality-year and project-year context, and why (if at
-- all) it is not a complete case for the models.
with reasons as (
    select
        exits.*,
        nullif(concat_ws(';',
            {%- for reason, condition in reasons %}
            case when {{ condition }} then '{{ reason }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ), '') as excluded_reasons
    from {{ ref('participant_exits') }} as exits
    left join {{ ref('int_participants__outcome') }} as outcome
        on outcome.person_key = exits.person_key
        and outcome.programme = exits.programme
        and outcome.cohort_year = exits.cohort_year
)

select
    reasons.* exclude (excluded_reasons),
    municipality_year.folkemengde,
    municipality_year.andel_sysselsatte,
    municipality_year.andel_uforetrygdede,
    municipality_year.nettoinnflytting,
    municipality_year.andel_innvandrere,
    municipality_year.andel_utvalgte_naeringer,
    municipality_year.andel_ledige,
    municipality_year.sentralitet,
    project_year.lonn_per_deltaker_1000kr,
    municipality_year.n_kommune_aar,
    project_year.n_prosjekt_aar,
    split_part(reasons.excluded_reasons, ';', 1) as excluded_reason,
    reasons.excluded_reasons,
    reasons.excluded_reasons is null as complete_case
from reasons
left join {{ ref('municipality_year') }} as municipality_year
    on municipality_year.kommunenummer = reasons.kommunenummer
    and municipality_year.cohort_year = reasons.cohort_year
left join {{ ref('project_year') }} as project_year
    on project_year.programme = reasons.programme
    and project_year.cohort_year = reasons.cohort_year
    and project_year.prosjekt_id = reasons.prosjekt_id
