-- Track (spor) as the education proxy. NIR: SporForste, else SporSiste. Jobbsjansen: the detailed
-- education v2_9 recoded to the track it implies (seed utdanning_spor; 11 "usikker" has no track).
with jobbsjansen as (
    select
        leavers.person_key,
        'jobbsjansen' as programme,
        leavers.cohort_year,
        utdanning_spor.spor
    from {{ ref('stg_jobbsjansen__individrapportering') }} as leavers
    left join {{ ref('utdanning_spor') }} as utdanning_spor
        on leavers.utdanning = utdanning_spor.v2_9
    where leavers.deltar_ved_aarsslutt = 2
),

intro as (
    select
        person_key,
        'intro' as programme,
        cohort_year,
        coalesce(spor_forste, spor_siste) as spor
    from {{ ref('stg_nir__deltakere') }}
)

select * from jobbsjansen
union all
select * from intro
