-- The municipality structure of each cohort year: a 2019 Skedsmo participant belongs to Skedsmo (0231),
-- a 2020 one to Lillestrøm (3030).
with cohort_years as (
    select distinct cohort_year from {{ ref('stg_jobbsjansen__individrapportering') }}
    union
    select distinct cohort_year from {{ ref('stg_nir__deltakere') }}
),

valid_in_year as (
    select
        cohort_years.cohort_year,
        klass.kommunenummer,
        klass.kommunenavn,
        klass.gyldig_fra,
        klass.gyldig_til
    from cohort_years
    inner join {{ ref('stg_ssb__klass_kommuner') }} as klass
        on
            klass.gyldig_fra <= make_date(cohort_years.cohort_year, 12, 31)
            and (klass.gyldig_til is null or klass.gyldig_til >= make_date(cohort_years.cohort_year, 1, 1))
)

select
    cohort_year,
    kommunenummer,
    kommunenavn,
    {{ label_key('kommunenavn') }} as kommunenavn_key,
    gyldig_fra,
    gyldig_til
from valid_in_year
-- A code renamed during a year is listed twice; the name valid at the end of the year wins.
qualify row_number() over (partition by cohort_year, kommunenummer order by gyldig_fra desc) = 1
