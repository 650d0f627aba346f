with delivered as (
    select * from {{ source('regnskap', 'kostra_f275') }}
)

select
    cohort_year,
    lpad(kommunenummer, 4, '0') as kommunenummer,
    kommunenavn,
    cast(lonnsutgifter_1000kr as decimal(18, 3)) as lonnsutgifter_1000kr,
    cast(antall_deltakere_intro as integer) as antall_deltakere,
    _source_file as source_file,
    _row_number as source_row
from delivered
where {{ not_quarantined('delivered') }}
