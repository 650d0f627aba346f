{%- set groups = [
    'norskopplaering', 'samfunnskunnskap', 'sprakpraksis', 'yrkesrettet_kurs', 'ordinaert_arbeid',
    'arbeidspraksis_skjermet', 'arbeidspraksis_ordinaer', 'amo_kurs', 'sosialt_nettverk',
    'helsefremmende', 'barn_familie', 'kultur_fritid', 'realkompetanse', 'grunnskolefag', 'fag_vgo',
    'annet',
] -%}

-- One 0/1 column per measure group: 1 if any of the group's measures was received. A participant
-- without any measure row has 0 everywhere.
with exits as (
    select
        person_key,
        programme,
        cohort_year
    from {{ ref('int_participants__exits') }}
),

received as (
    select
        person_key,
        programme,
        cohort_year,
        tiltaksgruppe
    from {{ ref('int_participants__tiltak_mottatt') }}
    where tiltaksgruppe is not null
)

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
{%- for group in groups %}
    coalesce(max(case when received.tiltaksgruppe = '{{ group }}' then 1 else 0 end), 0)
        as tiltak_{{ group }}{{ "," if not loop.last }}
{%- endfor %}
from exits
left join received
    on
        exits.person_key = received.person_key
        and exits.programme = received.programme
        and exits.cohort_year = received.cohort_year
group by exits.person_key, exits.programme, exits.cohort_year
