-- The unit of analysis: one row per ended participation. A Jobbsjansen row is an exit only when the
-- participant had left by 31.12 (v1_7 = 2); every NIR row is an exit of its cohort.
with jobbsjansen as (
    select
        person_key,
        'jobbsjansen' as programme,
        cohort_year,
        1 as ordning,
        js_scheme,
        kjonn_mann,
        cohort_year - fodselsaar as alder,
        cast(cohort_year - ankomstaar as double) as botid,
        (cohort_year - startaar) * 12 + (sluttmaaned - startmaaned) as varighet_mnd,
        opprinnelsesland as landnavn,
        source_file,
        source_row
    from {{ ref('stg_jobbsjansen__individrapportering') }}
    where deltar_ved_aarsslutt = 2
),

intro as (
    select
        person_key,
        'intro' as programme,
        cohort_year,
        0 as ordning,
        cast(null as varchar) as js_scheme,
        case kjonn when 'M' then 1 when 'K' then 0 end as kjonn_mann,
        year(avsluttet_dato) - fodselsaar as alder,
        date_diff('day', dato_forste_vedtak, avsluttet_dato) / 365.25 as botid,
        -- Whole calendar months: a month counts once its day of month is reached.
        (year(avsluttet_dato) - year(gjennomforing_beregnet_fra)) * 12
        + (month(avsluttet_dato) - month(gjennomforing_beregnet_fra))
        - case when day(avsluttet_dato) < day(gjennomforing_beregnet_fra) then 1 else 0 end
            as varighet_mnd,
        statsborgerskap as landnavn,
        source_file,
        source_row
    from {{ ref('stg_nir__deltakere') }}
)

select * from jobbsjansen
union all
select * from intro
