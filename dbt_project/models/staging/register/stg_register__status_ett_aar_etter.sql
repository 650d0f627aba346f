with delivered as (
    select * from {{ source('register', 'status_ett_aar_etter') }}
)

select
    person_key,
    cohort_year,
    cast(status_november as integer) as status_november,
    cast(yrkesinntekt_kr as bigint) as yrkesinntekt_kr,
    cast(sosialhjelp as integer) as sosialhjelp,
    _source_file as source_file,
    _row_number as source_row,
    _file_sha256 as file_sha256
from delivered
where {{ not_quarantined('delivered') }}
