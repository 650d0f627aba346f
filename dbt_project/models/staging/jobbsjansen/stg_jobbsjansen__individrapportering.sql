{%- set measure_columns = [
    'v3_1_1', 'v3_1_2', 'v3_1_3', 'v3_1_4', 'v3_1_5', 'v3_1_6', 'v3_1_7', 'v3_1_10', 'v3_1_11',
    'v3_2_1', 'v3_2_2', 'v3_2_3', 'v3_2_4', 'v3_2_5', 'v3_2_6', 'v3_2_7', 'v3_2_8', 'v3_2_10', 'v3_2_11',
    'v3_3_1', 'v3_3_2', 'v3_3_3', 'v3_3_4', 'v3_3_5', 'v3_3_6', 'v3_3_8', 'v3_3_9', 'v3_3_10',
    'v3_4_1', 'v3_4_2', 'v3_4_3', 'v3_4_4', 'v3_4_5', 'v3_4_6',
    'v3_5_1', 'v3_5_2', 'v3_5_3', 'v3_5_4', 'v3_5_5', 'v3_5_6', 'v3_5_7', 'v3_5_8', 'v3_5_9',
] -%}

with delivered as (
    select * from {{ source('jobbsjansen', 'individrapportering') }}
),

not_quarantined as (
    select * from delivered
    where {{ not_quarantined('delivered') }}
)

select
    person_key,
    id_type,
    cohort_year,
    v1_1 as prosjektkommune,
    v1_2 as oslo_bydel,
    -- 2017–2018 files name the schemes Del A / Del C. Ingestion has checked these text codes
    -- against their lists (trimmed, any letter case), so lower() is all the normalising needed.
    case lower(v1_3)
        when 'ordning a' then 'ordning_a'
        when 'del a' then 'ordning_a'
        when 'område 1' then 'omrade_1'
        when 'del c' then 'omrade_1'
    end as js_scheme,
    v1_3 as ordning_levert,
    cast(v1_4 as integer) as startaar,
    cast(v1_5 as integer) as startmaaned,
    cast(v1_7 as integer) as deltar_ved_aarsslutt,
    cast(v1_8 as integer) as sluttmaaned,
    case lower(v2_1)
        when 'kvinne' then 0
        when 'mann' then 1
        else cast(v2_1 as integer)
    end as kjonn_mann,
    cast(v2_2 as integer) as fodselsaar,
    cast(v2_3 as integer) as ankomstaar,
    v2_5 as opprinnelsesland,
    cast(v2_9 as integer) as utdanning,
    -- An unticked box may be empty, and the digital courses v3_2_11 and v3_3_10 are empty before
    -- 2020, when they were not asked: both mean not received.
    {%- for column in measure_columns %}
        coalesce(cast({{ column }} as integer), 0) as {{ column }},
    {%- endfor %}
    cast(v4_1 as integer) as avslutningsaarsak,
    cast(v4_3 as integer) as arbeidstype,
    case lower(v5_1)
        when 'under 10 %' then 1
        when '10-19 %' then 2
        when '20-29 %' then 3
        when '30-49 %' then 4
        when '50 % eller mer' then 5
        when 'vet ikke' then 6
        else cast(v5_1 as integer)
    end as fravaer_kategori,
    cast(v5_2 as integer) as norskprove_tatt,
    v5_3 as norsk_vurdering,
    v5_4_1 as prove_muntlig,
    v5_4_2 as prove_lytt,
    v5_4_3 as prove_les,
    v5_4_4 as prove_skriv,
    _source_file as source_file,
    _row_number as source_row,
    _file_sha256 as file_sha256
from not_quarantined
