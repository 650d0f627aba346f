-- Municipality-year context for the multilevel models: every municipality valid in a cohort year
-- (structure of that year), SSB context of the same year, and its ended participants.
with municipalities as (
    select
        cohort_year,
        kommunenummer,
        kommunenavn
    from {{ ref('int_kommuner__per_year') }}
),

context as (
    select * from {{ ref('int_kommuner__kontekst') }}
),

exits as (
    select
        cohort_year,
        kommunenummer,
        count(*) as n_kommune_aar,
        count(*) filter (where programme = 'intro') as n_intro,
        count(*) filter (where programme = 'jobbsjansen') as n_jobbsjansen
    from {{ ref('participant_exits') }}
    group by cohort_year, kommunenummer
)

select
    municipalities.kommunenummer,
    municipalities.cohort_year,
    municipalities.kommunenavn,
    context.folkemengde,
    context.andel_sysselsatte,
    context.andel_uforetrygdede,
    context.nettoinnflytting,
    context.andel_innvandrere,
    context.andel_utvalgte_naeringer,
    context.andel_ledige,
    context.sentralitet,
    coalesce(exits.n_kommune_aar, 0) as n_kommune_aar,
    coalesce(exits.n_intro, 0) as n_intro,
    coalesce(exits.n_jobbsjansen, 0) as n_jobbsjansen
from municipalities
left join context
    on
        municipalities.kommunenummer = context.kommunenummer
        and municipalities.cohort_year = context.aar
left join exits
    on
        municipalities.kommunenummer = exits.kommunenummer
        and municipalities.cohort_year = exits.cohort_year
