-- One row per ended participation in either programme, every variable harmonised
-- (harmonisation.md). Column order and names are the contract of docs/architecture.md.
{%- set key_join = "using (person_key, programme, cohort_year)" %}

select
    exits.person_key,
    exits.programme,
    exits.cohort_year,
    exits.ordning,
    exits.js_scheme,
    kommune.kommunenummer,
    kommune.kommunenavn,
    kommune.prosjekt_id,
    exits.landnavn,
    region.region,
    exits.kjonn_mann,
    exits.alder,
    exits.botid,
    exits.varighet_mnd,
    fravaer.fravaer_andel,
    fravaer.fravaer_hoy,
    spor.spor,
    norsk.norsk_score,
    norsk.norsk_tier,
    tiltak.tiltak_norskopplaering,
    tiltak.tiltak_samfunnskunnskap,
    tiltak.tiltak_sprakpraksis,
    tiltak.tiltak_yrkesrettet_kurs,
    tiltak.tiltak_ordinaert_arbeid,
    tiltak.tiltak_arbeidspraksis_skjermet,
    tiltak.tiltak_arbeidspraksis_ordinaer,
    tiltak.tiltak_amo_kurs,
    tiltak.tiltak_sosialt_nettverk,
    tiltak.tiltak_helsefremmende,
    tiltak.tiltak_barn_familie,
    tiltak.tiltak_kultur_fritid,
    tiltak.tiltak_realkompetanse,
    tiltak.tiltak_grunnskolefag,
    tiltak.tiltak_fag_vgo,
    tiltak.tiltak_annet,
    outcome.avslutningsaarsak,
    outcome.maloppnaelse,
    outcome.maloppnaelse_3,
    outcome.overgang,
    outcome.outcome_variant,
    oppfolging.status_1aar,
    oppfolging.arbeid_utdanning_1aar,
    oppfolging.yrkesinntekt_1aar_kategori,
    oppfolging.sosialhjelp_1aar,
    oppfolging.oppfolging_status,
    exits.source_file,
    exits.source_row
from {{ ref('int_participants__exits') }} as exits
left join {{ ref('int_participants__kommune') }} as kommune {{ key_join }}
left join {{ ref('int_participants__region') }} as region {{ key_join }}
left join {{ ref('int_participants__fravaer') }} as fravaer {{ key_join }}
left join {{ ref('int_participants__spor') }} as spor {{ key_join }}
left join {{ ref('int_participants__norsk') }} as norsk {{ key_join }}
left join {{ ref('int_participants__tiltak') }} as tiltak {{ key_join }}
left join {{ ref('int_participants__outcome') }} as outcome {{ key_join }}
left join {{ ref('int_participants__oppfolging') }} as oppfolging {{ key_join }}
