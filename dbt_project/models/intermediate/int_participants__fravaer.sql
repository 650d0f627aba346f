-- High absence (≥ 10 % of agreed time). Jobbsjansen reports a category (v5_1); NIR gives hours and
-- days, a day counted as 7.5 hours, over the hours attended in Norwegian, social studies and NKNV.
-- Decimal arithmetic decides the threshold exactly; no attended hours means no share.
with jobbsjansen as (
    select
        person_key,
        'jobbsjansen' as programme,
        cohort_year,
        cast(null as double) as fravaer_andel,
        case
            when fravaer_kategori = 1 then 0
            when fravaer_kategori between 2 and 5 then 1
        end as fravaer_hoy
    from {{ ref('stg_jobbsjansen__individrapportering') }}
    where deltar_ved_aarsslutt = 2
),

intro_hours as (
    select
        person_key,
        cohort_year,
        fravaer_timer + 7.5 * fravaer_dager as fravaer_i_timer,
        nullif(timer_norsk + timer_samfunnskunnskap + timer_nknv, 0) as deltatt_i_timer
    from {{ ref('stg_nir__deltakere') }}
),

intro as (
    select
        person_key,
        'intro' as programme,
        cohort_year,
        cast(fravaer_i_timer as double) / cast(deltatt_i_timer as double) as fravaer_andel,
        case
            when fravaer_i_timer is null or deltatt_i_timer is null then null
            when fravaer_i_timer * 10 >= deltatt_i_timer then 1
            else 0
        end as fravaer_hoy
    from intro_hours
)

select * from jobbsjansen
union all
select * from intro
