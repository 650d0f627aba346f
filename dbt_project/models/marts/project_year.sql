-- Project-year context: salary costs per participant in 1 000 NOK, over all participants of the
-- year (not only leavers), and the project's ended participants. Jobbsjansen projects come from
-- the project accounts, introduction programmes (`intro-<kommunenummer>`) from KOSTRA function 275.
-- A project with exits but no accounts (or the reverse) is kept, with the missing side empty.
with accounts as (
    select
        'jobbsjansen' as programme,
        cohort_year,
        prosjekt as prosjekt_id,
        kommunenummer,
        lonnsutgifter_kr / 1000 as lonnsutgifter_1000kr,
        antall_deltakere
    from {{ ref('stg_regnskap__jobbsjansen_prosjekter') }}
    union all
    select
        'intro' as programme,
        cohort_year,
        'intro-' || kommunenummer as prosjekt_id,
        kommunenummer,
        lonnsutgifter_1000kr,
        antall_deltakere
    from {{ ref('stg_regnskap__kostra_f275') }}
),

exits as (
    select
        programme,
        cohort_year,
        prosjekt_id,
        min(kommunenummer) as kommunenummer,
        count(*) as n_prosjekt_aar
    from {{ ref('participant_exits') }}
    group by programme, cohort_year, prosjekt_id
)

select
    coalesce(exits.prosjekt_id, accounts.prosjekt_id) as prosjekt_id,
    coalesce(exits.programme, accounts.programme) as programme,
    coalesce(exits.cohort_year, accounts.cohort_year) as cohort_year,
    coalesce(exits.kommunenummer, accounts.kommunenummer) as kommunenummer,
    cast(accounts.lonnsutgifter_1000kr as double) as lonnsutgifter_1000kr,
    accounts.antall_deltakere,
    cast(accounts.lonnsutgifter_1000kr as double) / nullif(accounts.antall_deltakere, 0) as lonn_per_deltaker_1000kr,
    coalesce(exits.n_prosjekt_aar, 0) as n_prosjekt_aar
from exits
full outer join accounts
    on
        exits.programme = accounts.programme
        and exits.cohort_year = accounts.cohort_year
        and {{ label_key('accounts.prosjekt_id') }} = {{ label_key('exits.prosjekt_id') }}
