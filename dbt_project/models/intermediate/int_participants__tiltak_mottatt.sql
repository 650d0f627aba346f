{#- A view: with ten million measure rows at scale 100, writing this table cost more than
    computing it again for its one consumer and its tests. -#}
{{ config(materialized='view') }}

-- Every measure each ended participant received, in long form, with its model group from the
-- measure seeds. A measure missing from its seed keeps a NULL `tiltaksgruppe` and fails the test
-- `unmapped_measure_label`.
with jobbsjansen_received as (
    unpivot (
        select
            person_key,
            cohort_year,
            source_file,
            source_row,
            columns('^v3_')
        from {{ ref('stg_jobbsjansen__individrapportering') }}
        where deltar_ved_aarsslutt = 2
    )
    on columns('^v3_')
    into name kolonne value mottatt
),

jobbsjansen as (
    select
        received.person_key,
        'jobbsjansen' as programme,
        received.cohort_year,
        received.kolonne as tiltak,
        measures.tiltaksgruppe,
        received.source_file,
        received.source_row
    from jobbsjansen_received as received
    left join {{ ref('jobbsjansen_tiltak') }} as measures
        on received.kolonne = measures.kolonne
    where received.mottatt = 1
),

nir_measures as (
    select
        {{ label_key('tiltak') }} as tiltak_key,
        tiltaksgruppe
    from {{ ref('nir_tiltak') }}
),

-- Labels are normalised once per distinct spelling, not once per row.
nir_spellings as (
    select
        delivered.tiltak,
        nir_measures.tiltaksgruppe
    from (select distinct tiltak from {{ ref('stg_nir__tiltak') }}) as delivered
    left join nir_measures
        on nir_measures.tiltak_key = {{ label_key('delivered.tiltak') }}
),

intro as (
    select
        received.person_key,
        'intro' as programme,
        received.cohort_year,
        received.tiltak,
        nir_spellings.tiltaksgruppe,
        received.source_file,
        received.source_row
    from {{ ref('stg_nir__tiltak') }} as received
    left join nir_spellings
        on received.tiltak = nir_spellings.tiltak
)

select * from jobbsjansen
union all
select * from intro
