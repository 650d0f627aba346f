with delivered as (
    select * from {{ source('ssb', 'sentralitet') }}
)

select
    lpad(kommunenummer, 4, '0') as kommunenummer,
    cast(år as integer) as aar,
    cast(sentralitet as integer) as sentralitet,
    _source_file as source_file,
    _row_number as source_row
from delivered
where {{ not_quarantined('delivered') }}
