with delivered as (
    select * from {{ source('regnskap', 'jobbsjansen_prosjekter') }}
)

select
    cohort_year,
    prosjekt,
    lpad(kommunenummer, 4, '0') as kommunenummer,
    cast(lonnsutgifter_kr as decimal(18, 2)) as lonnsutgifter_kr,
    cast(antall_deltakere as integer) as antall_deltakere,
    _source_file as source_file,
    _row_number as source_row
from delivered
where {{ not_quarantined('delivered') }}
