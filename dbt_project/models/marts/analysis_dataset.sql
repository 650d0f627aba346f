{#- Reasons a row is out of the models, in priority order (docs/architecture.md): the first that
    applies is `excluded_reason`, all that apply are `excluded_reasons`. Under js_scope `ordning_a`
    a Jobbsjansen row of another (or an unknown) scheme is outside the report's population, so that
    reason comes first. -#}
{%- set outside_scope = "false" if js_scope() == 'alle'
    else "exits.programme = 'jobbsjansen' and exits.js_scheme is distinct from 'ordning_a'" -%}
{%- set covariate_reasons = [
    ('missing_spor', 'exits.spor is null'),
    ('missing_norsk_score', 'exits.norsk_score is null'),
    ('missing_fravaer_hoy', 'exits.fravaer_hoy is null'),
    ('missing_region', 'exits.region is null'),
    ('missing_botid', 'exits.botid is null'),
    ('missing_alder', 'exits.alder is null'),
    ('missing_varighet_mnd', 'exits.varighet_mnd is null'),
    ('missing_kjonn', 'exits.kjonn_mann is null'),
] -%}
{%- set reasons = [
    ('outside_js_scope', outside_scope),
    ('outcome_excluded', 'outcome.outcome_excluded'),
    ('missing_outcome', 'exits.maloppnaelse is null and not coalesce(outcome.outcome_excluded, false)'),
] + covariate_reasons -%}
{#- The second outcome, work or education one year after exit (harmonisation.md): out when its
    follow-up is missing, then for the same covariates; the outcome at exit plays no part. -#}
{%- set reasons_1aar = [
    ('outside_js_scope', outside_scope),
    ('ikke_levert_ennaa', "exits.oppfolging_status = 'ikke_levert_ennaa'"),
    ('ikke_i_registeret', "exits.oppfolging_status = 'ikke_i_registeret'"),
    ('utvandret_eller_dod', "exits.oppfolging_status = 'koblet' and exits.arbeid_utdanning_1aar is null"),
] + covariate_reasons -%}

-- Every ended participation with its municipality-year and project-year context, and why (if at
-- all) it is not a complete case for the models.
with reasons as (
    select
        exits.*,
        nullif(concat_ws(
            ';',
            {%- for reason, condition in reasons %}
                case when {{ condition }} then '{{ reason }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ), '') as excluded_reasons,
        nullif(concat_ws(
            ';',
            {%- for reason, condition in reasons_1aar %}
                case when {{ condition }} then '{{ reason }}' end{{ "," if not loop.last }}
            {%- endfor %}
        ), '') as excluded_reasons_1aar
    from {{ ref('participant_exits') }} as exits
    left join {{ ref('int_participants__outcome') }} as outcome
        on
            exits.person_key = outcome.person_key
            and exits.programme = outcome.programme
            and exits.cohort_year = outcome.cohort_year
)

select
    -- every column of the exits; excluded_reasons moves to the end, after excluded_reason
    reasons.* exclude (excluded_reasons, excluded_reasons_1aar),  -- noqa: AM04, RF02
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
    reasons.excluded_reasons is null as complete_case,
    split_part(reasons.excluded_reasons_1aar, ';', 1) as excluded_reason_1aar,
    reasons.excluded_reasons_1aar,
    reasons.excluded_reasons_1aar is null as complete_case_1aar,
    '{{ js_scope() }}' as js_scope
from reasons
left join {{ ref('municipality_year') }} as municipality_year
    on
        reasons.kommunenummer = municipality_year.kommunenummer
        and reasons.cohort_year = municipality_year.cohort_year
left join {{ ref('project_year') }} as project_year
    on
        reasons.programme = project_year.programme
        and reasons.cohort_year = project_year.cohort_year
        and reasons.prosjekt_id = project_year.prosjekt_id
