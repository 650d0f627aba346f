-- Country of origin (Jobbsjansen v2_5) or first citizenship (NIR) to the report's regions.
-- A country missing from the seed keeps a NULL `region` here and fails the test
-- `unmapped_country_label`; it is never silently treated as a missing value.
with exits as (
    select person_key, programme, cohort_year, landnavn
    from {{ ref('int_participants__exits') }}
),

countries as (
    select {{ label_key('landnavn') }} as landnavn_key, region
    from {{ ref('land_regioner') }}
)

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
    exits.landnavn,
    countries.region,
    exits.landnavn is null or countries.landnavn_key is not null as landnavn_mapped
from exits
left join countries
    on countries.landnavn_key = {{ label_key('exits.landnavn') }}
