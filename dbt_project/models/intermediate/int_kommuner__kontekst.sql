{%- set variables = ['folkemengde', 'andel_sysselsatte', 'andel_uforetrygdede', 'nettoinnflytting',
                     'andel_innvandrere', 'andel_utvalgte_naeringer', 'andel_ledige'] -%}

-- SSB statbank tables pivoted to one row per municipality and year; the table → variable mapping
-- is the seed ssb_tabeller (report 13/2022, table 14). Centrality comes from its own file.
with statbank as (
    select
        statbank.kommunenummer,
        statbank.aar,
        tabeller.variabel,
        statbank.verdi
    from {{ ref('stg_ssb__statbank') }} as statbank
    inner join {{ ref('ssb_tabeller') }} as tabeller
        on statbank.tabell = tabeller.tabell
),

pivoted as (
    select
        kommunenummer,
        aar,
    {%- for variable in variables %}
        max(verdi) filter (where variabel = '{{ variable }}') as {{ variable }}{{ "," if not loop.last }}
    {%- endfor %}
    from statbank
    group by kommunenummer, aar
),

sentralitet as (
    select
        kommunenummer,
        aar,
        sentralitet
    from {{ ref('stg_ssb__sentralitet') }}
)

select
    coalesce(pivoted.kommunenummer, sentralitet.kommunenummer) as kommunenummer,
    coalesce(pivoted.aar, sentralitet.aar) as aar,
    {%- for variable in variables %}
        pivoted.{{ variable }},
    {%- endfor %}
    sentralitet.sentralitet
from pivoted
full outer join sentralitet
    on
        pivoted.kommunenummer = sentralitet.kommunenummer
        and pivoted.aar = sentralitet.aar
