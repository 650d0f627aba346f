with delivered as (
    select * from {{ source('ssb', 'statbank') }}
)

select
    lpad(tabell, 5, '0') as tabell,
    lpad(kommunenummer, 4, '0') as kommunenummer,
    region_navn as kommunenavn,
    statistikkvariabel,
    cast(år as integer) as aar,
    cast(value as double) as verdi,
    _source_file as source_file,
    _row_number as source_row
from delivered
where {{ not_quarantined('delivered') }}
