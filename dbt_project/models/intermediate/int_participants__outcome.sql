-- Goal achievement (måloppnåelse) from the end reason. Jobbsjansen codes v4_1 through the seed
-- jobbsjansen_avslutningsaarsaker; NIR labels through nir_avslutningsaarsaker, in the column of the
-- active outcome variant. `utelatt` end reasons (death, moved, utfaset, ...) are excluded, not failures.
-- An end reason missing from its seed is quarantined by ingestion; the test `unmapped_end_reason`
-- holds the two together. `overgang` (work or education, report table 1) is the seed's kind of
-- achievement, for achieved exits only, so it follows the active variant.
with jobbsjansen as (
    select
        leavers.person_key,
        'jobbsjansen' as programme,
        leavers.cohort_year,
        cast(leavers.avslutningsaarsak as varchar) as avslutningsaarsak,
        reasons.maloppnaelse,
        reasons.maloppnaelse_3,
        case when reasons.maloppnaelse = 1 then reasons.overgang end as overgang,
        reasons.utelatt as outcome_excluded,
        reasons.v4_1 is not null or leavers.avslutningsaarsak is null as avslutningsaarsak_mapped
    from {{ ref('stg_jobbsjansen__individrapportering') }} as leavers
    left join {{ ref('jobbsjansen_avslutningsaarsaker') }} as reasons
        on leavers.avslutningsaarsak = reasons.v4_1
    where leavers.deltar_ved_aarsslutt = 2
),

nir_reasons as (
    select
        {{ label_key('avslutningsaarsak') }} as avslutningsaarsak_key,
        maloppnaelse_{{ outcome_variant() }} as maloppnaelse,
        overgang,
        utelatt
    from {{ ref('nir_avslutningsaarsaker') }}
),

-- Labels are normalised once per distinct spelling, not once per row.
nir_spellings as (
    select
        delivered.avslutningsaarsak,
        nir_reasons.maloppnaelse,
        case when nir_reasons.maloppnaelse = 1 then nir_reasons.overgang end as overgang,
        nir_reasons.utelatt,
        nir_reasons.avslutningsaarsak_key is not null as avslutningsaarsak_mapped
    from (select distinct avslutningsaarsak from {{ ref('stg_nir__deltakere') }}) as delivered
    left join nir_reasons
        on nir_reasons.avslutningsaarsak_key = {{ label_key('delivered.avslutningsaarsak') }}
),

intro as (
    select
        participants.person_key,
        'intro' as programme,
        participants.cohort_year,
        participants.avslutningsaarsak,
        nir_spellings.maloppnaelse,
        cast(null as integer) as maloppnaelse_3,
        nir_spellings.overgang,
        nir_spellings.utelatt as outcome_excluded,
        coalesce(nir_spellings.avslutningsaarsak_mapped, true) as avslutningsaarsak_mapped
    from {{ ref('stg_nir__deltakere') }} as participants
    left join nir_spellings
        on participants.avslutningsaarsak = nir_spellings.avslutningsaarsak
)

select
    *,
    '{{ outcome_variant() }}' as outcome_variant
from jobbsjansen
union all
select
    *,
    '{{ outcome_variant() }}' as outcome_variant
from intro
