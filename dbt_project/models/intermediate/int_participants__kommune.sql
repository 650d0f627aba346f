-- Municipality and project of each exit, in the municipality structure of the cohort year.
-- Jobbsjansen names its project municipality (v1_1): Oslo district projects (v1_2) belong to Oslo
-- 0301 and are projects of their own (`Oslo - <district>`); every other project is its (host)
-- municipality. The introduction programme is run by the municipality of exit: `intro-<kommunenummer>`.
with municipalities as (
    select * from {{ ref('int_kommuner__per_year') }}
),

municipality_names as (
    select
        cohort_year,
        kommunenavn_key,
        kommunenummer,
        kommunenavn
    from municipalities
    qualify row_number() over (partition by cohort_year, kommunenavn_key order by gyldig_fra desc) = 1
),

districts as (
    select
        {{ label_key('bydel') }} as bydel_key,
        bydel,
        kommunenummer
    from {{ ref('oslo_bydeler') }}
),

jobbsjansen_leavers as (
    select
        person_key,
        cohort_year,
        prosjektkommune,
        oslo_bydel,
        {{ label_key('prosjektkommune') }} = 'oslo' and oslo_bydel is not null as is_oslo_district
    from {{ ref('stg_jobbsjansen__individrapportering') }}
    where deltar_ved_aarsslutt = 2
),

jobbsjansen as (
    select
        leavers.person_key,
        'jobbsjansen' as programme,
        leavers.cohort_year,
        coalesce(districts.kommunenummer, municipality_names.kommunenummer) as kommunenummer,
        -- An unknown district leaves the project unnamed, which fails the test `unmapped_oslo_district`.
        case
            when leavers.is_oslo_district then 'Oslo - ' || districts.bydel
            else municipality_names.kommunenavn
        end as prosjekt_id,
        leavers.prosjektkommune as kommune_levert,
        leavers.oslo_bydel as bydel_levert
    from jobbsjansen_leavers as leavers
    left join municipality_names
        on
            leavers.cohort_year = municipality_names.cohort_year
            and municipality_names.kommunenavn_key = {{ label_key('leavers.prosjektkommune') }}
    left join districts
        on
            leavers.is_oslo_district
            and districts.bydel_key = {{ label_key('leavers.oslo_bydel') }}
),

intro as (
    select
        person_key,
        'intro' as programme,
        cohort_year,
        kommunenummer,
        'intro-' || kommunenummer as prosjekt_id,
        kommunenavn as kommune_levert,
        cast(null as varchar) as bydel_levert
    from {{ ref('stg_nir__deltakere') }}
),

exits as (
    select * from jobbsjansen
    union all
    select * from intro
)

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
    exits.kommunenummer,
    coalesce(municipalities.kommunenavn, exits.kommune_levert) as kommunenavn,
    exits.prosjekt_id,
    exits.kommune_levert,
    exits.bydel_levert
from exits
left join municipalities
    on
        exits.cohort_year = municipalities.cohort_year
        and exits.kommunenummer = municipalities.kommunenummer
