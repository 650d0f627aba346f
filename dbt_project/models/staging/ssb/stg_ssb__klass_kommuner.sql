with delivered as (
    select * from {{ source('ssb', 'klass_131_kommuner') }}
)

select
    lpad(code, 4, '0') as kommunenummer,
    name as kommunenavn,
    cast(validfrom as date) as gyldig_fra,
    cast(validto as date) as gyldig_til,
    _source_file as source_file,
    _row_number as source_row
from delivered
where {{ not_quarantined('delivered') }}
