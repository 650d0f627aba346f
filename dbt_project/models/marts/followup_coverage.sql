-- How completely each cohort's register follow-up covers its ended participations, per programme:
-- coverage = linked exits / all exits; linkage rate = linked exits / exits identified by a
-- fødselsnummer (the only persons the registers can look up). A cohort without a follow-up file
-- yet has no rates.
select
    exits.cohort_year,
    exits.programme,
    count(*) filter (where oppfolging.oppfolging_status <> 'ikke_levert_ennaa') > 0 as delivered,
    string_agg(distinct oppfolging.oppfolging_source_file, ', ') as source_file,
    count(*) as n_exits,
    count(*) filter (where oppfolging.id_type = 'fnr') as n_identified_by_fnr,
    count(*) filter (where oppfolging.oppfolging_status = 'koblet') as n_linked,
    count(*) filter (where oppfolging.oppfolging_status = 'ikke_i_registeret') as n_not_in_register,
    count(*) filter (where oppfolging.arbeid_utdanning_1aar is not null) as n_with_outcome,
    case
        when count(*) filter (where oppfolging.oppfolging_status <> 'ikke_levert_ennaa') > 0
            then cast(100.0 * count(*) filter (where oppfolging.oppfolging_status = 'koblet') / count(*) as double)
    end as coverage_pct,
    case
        when count(*) filter (where oppfolging.oppfolging_status <> 'ikke_levert_ennaa') > 0
            then cast(
                100.0 * count(*) filter (where oppfolging.oppfolging_status = 'koblet')
                / nullif(count(*) filter (where oppfolging.id_type = 'fnr'), 0) as double
            )
    end as linkage_rate_pct
from {{ ref('int_participants__exits') }} as exits
inner join {{ ref('int_participants__oppfolging') }} as oppfolging
    on
        exits.person_key = oppfolging.person_key
        and exits.programme = oppfolging.programme
        and exits.cohort_year = oppfolging.cohort_year
group by exits.cohort_year, exits.programme
