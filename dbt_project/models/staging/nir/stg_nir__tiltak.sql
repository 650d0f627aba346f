{#- A view: with ten million measure rows at scale 100, writing this table cost more than
    computing it again for its one consumer and its tests. -#}
{{ config(materialized='view') }}

with delivered as (
    select * from {{ source('nir', 'tiltak') }}
)

select
    person_key,
    cohort_year,
    tiltak,
    cast(tiltakstartdato as date) as tiltak_start,
    cast(tiltaksluttdato as date) as tiltak_slutt,
    _source_file as source_file,
    _row_number as source_row,
    _file_sha256 as file_sha256
from delivered
where {{ not_quarantined('delivered') }}
