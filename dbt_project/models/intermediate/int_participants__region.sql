-- Country of origin (Jobbsjansen v2_5) or first citizenship (NIR) to the report's regions.
-- A country missing from the seed keeps a NULL `region` here and fails the test
-- `unmapped_country_label`; it is never silently treated as a missing value.
-- Labels are normalised once per distinct spelling, not once per row.
with exits as (
    select
        person_key,
        programme,
        cohort_year,
        landnavn
    from {{ ref('int_participants__exits') }}
),

countries as (
    select
        {{ label_key('landnavn') }} as landnavn_key,
        region
    from {{ ref('land_regioner') }}
),

delivered_spellings as (
    select distinct landnavn
    from exits
    where landnavn is not null
),

spelling_regions as (
    select
        delivered_spellings.landnavn,
        countries.region,
        countries.landnavn_key is not null as landnavn_mapped
    from delivered_spellings
    left join countries
        on countries.landnavn_key = {{ label_key('delivered_spellings.landnavn') }}
)

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
    exits.landnavn,
    spelling_regions.region,
    coalesce(spelling_regions.landnavn_mapped, true) as landnavn_mapped
from exits
left join spelling_regions
    on exits.landnavn = spelling_regions.landnavn
