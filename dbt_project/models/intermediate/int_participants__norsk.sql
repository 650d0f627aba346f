-- Norwegian level: the mean of the test results present (NIR: four PROVE_NORSK_* columns;
-- Jobbsjansen: v5_4_1..4, `Usikker` ignored), else for Jobbsjansen the reporter's rating v5_3.
-- The tier rounds to the nearest level; an exact .5 tie goes to the side of the written test when
-- there is one, else down. Sums and counts stay integers so a tie is detected exactly.
with jobbsjansen_results as (
    select
        person_key,
        'jobbsjansen' as programme,
        cohort_year,
        {{ cefr_level('prove_muntlig') }} as muntlig,
        {{ cefr_level('prove_lytt') }} as lytt,
        {{ cefr_level('prove_les') }} as les,
        {{ cefr_level('prove_skriv') }} as skriftlig,
        case
            when lower(norsk_vurdering) in ('5', '6', 'c1', 'c2') then 4
            when norsk_vurdering in ('0', '1', '2', '3', '4') then cast(norsk_vurdering as integer)
            else {{ cefr_level('norsk_vurdering') }}
        end as vurdering
    from {{ ref('stg_jobbsjansen__individrapportering') }}
    where deltar_ved_aarsslutt = 2
),

intro_results as (
    select
        person_key,
        'intro' as programme,
        cohort_year,
        {{ cefr_level('prove_muntlig') }} as muntlig,
        {{ cefr_level('prove_lytt') }} as lytt,
        {{ cefr_level('prove_les') }} as les,
        {{ cefr_level('prove_skriv') }} as skriftlig,
        cast(null as integer) as vurdering
    from {{ ref('stg_nir__deltakere') }}
),

results as (
    select * from jobbsjansen_results
    union all
    select * from intro_results
),

summed as (
    select
        *,
        cast((muntlig is not null) as integer) + cast((lytt is not null) as integer)
        + cast((les is not null) as integer) + cast((skriftlig is not null) as integer) as antall_prover,
        coalesce(muntlig, 0) + coalesce(lytt, 0) + coalesce(les, 0) + coalesce(skriftlig, 0) as sum_prover
    from results
),

tiered as (
    select
        person_key,
        programme,
        cohort_year,
        antall_prover,
        case
            when antall_prover > 0 then sum_prover / antall_prover
            else vurdering
        end as norsk_score,
        case
            when antall_prover = 0 then vurdering
            when 2 * (sum_prover % antall_prover) > antall_prover then sum_prover // antall_prover + 1
            when 2 * (sum_prover % antall_prover) < antall_prover then sum_prover // antall_prover
            when skriftlig * antall_prover > sum_prover then sum_prover // antall_prover + 1
            else sum_prover // antall_prover
        end as norsk_nivaa
    from summed
)

select
    person_key,
    programme,
    cohort_year,
    cast(norsk_score as double) as norsk_score,
    case norsk_nivaa
        when 0 then 'Under A1'
        when 1 then 'A1'
        when 2 then 'A2'
        when 3 then 'B1'
        when 4 then 'B2'
    end as norsk_tier,
    antall_prover > 0 as norsk_fra_prove
from tiered
