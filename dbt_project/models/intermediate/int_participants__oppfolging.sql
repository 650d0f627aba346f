-- Status one year after exit for every ended participation (harmonisation.md "Status one year after
-- exit"), joined on person and cohort year for both programmes. A cohort without a follow-up file
-- has not been delivered yet (`ikke_levert_ennaa`); once its file is there, an exit without a row in
-- it is `ikke_i_registeret` (e.g. a Jobbsjansen participant known only by a DUF number).
with exits as (
    select
        person_key,
        programme,
        cohort_year
    from {{ ref('int_participants__exits') }}
),

jobbsjansen_identifiers as (
    select
        person_key,
        cohort_year,
        id_type
    from {{ ref('stg_jobbsjansen__individrapportering') }}
),

followup as (
    select
        delivered.person_key,
        delivered.cohort_year,
        delivered.status_november,
        delivered.yrkesinntekt_kr,
        delivered.sosialhjelp,
        delivered.source_file,
        status.status_1aar,
        status.arbeid_utdanning_1aar
    from {{ ref('stg_register__status_ett_aar_etter') }} as delivered
    left join {{ ref('status_ett_aar') }} as status
        on delivered.status_november = status.status_november
),

delivered_cohorts as (
    select distinct cohort_year
    from {{ ref('stg_register__status_ett_aar_etter') }}
)

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
    -- The registers look persons up by fødselsnummer: every NIR participant has one.
    coalesce(jobbsjansen_identifiers.id_type, 'fnr') as id_type,
    case
        when followup.person_key is not null then 'koblet'
        when delivered_cohorts.cohort_year is not null then 'ikke_i_registeret'
        else 'ikke_levert_ennaa'
    end as oppfolging_status,
    followup.status_november,
    followup.status_1aar,
    followup.arbeid_utdanning_1aar,
    case
        when followup.yrkesinntekt_kr < 100000 then 'under_100k'
        when followup.yrkesinntekt_kr < 300000 then '100k_300k'
        when followup.yrkesinntekt_kr >= 300000 then '300k_og_over'
    end as yrkesinntekt_1aar_kategori,
    followup.sosialhjelp as sosialhjelp_1aar,
    followup.source_file as oppfolging_source_file
from exits
left join jobbsjansen_identifiers
    on
        exits.programme = 'jobbsjansen'
        and exits.person_key = jobbsjansen_identifiers.person_key
        and exits.cohort_year = jobbsjansen_identifiers.cohort_year
left join followup
    on
        exits.person_key = followup.person_key
        and exits.cohort_year = followup.cohort_year
left join delivered_cohorts
    on exits.cohort_year = delivered_cohorts.cohort_year
