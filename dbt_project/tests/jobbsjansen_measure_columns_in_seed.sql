{{ config(meta={'critical': true, 'dagster': {'ref': {'name': 'stg_jobbsjansen__individrapportering'}}}) }}
-- Every Jobbsjansen measure column staging passes on has a group in the seed jobbsjansen_tiltak,
-- and every seed row names a column staging has: a measure is never dropped without a trace.
with staged as (
    select column_name as kolonne
    from information_schema.columns
    where
        table_schema = '{{ ref("stg_jobbsjansen__individrapportering").schema }}'
        and table_name = '{{ ref("stg_jobbsjansen__individrapportering").identifier }}'
        and column_name like 'v3\_%' escape '\'
),

seeded as (
    select kolonne from {{ ref('jobbsjansen_tiltak') }}
)

select
    coalesce(staged.kolonne, seeded.kolonne) as kolonne,
    case when seeded.kolonne is null then 'not in seed jobbsjansen_tiltak' else 'not in staging' end as problem
from staged
full outer join seeded on staged.kolonne = seeded.kolonne
where staged.kolonne is null or seeded.kolonne is null
