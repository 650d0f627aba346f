with delivered as (
    select * from {{ source('nir', 'deltakere') }}
)

select
    person_key,
    cohort_year,
    upper(trim(kjonn)) as kjonn,
    cast(fodselsaar as integer) as fodselsaar,
    statsborgerskapforste as statsborgerskap,
    cast(datoforforstevedtakintro as date) as dato_forste_vedtak,
    cast(gjennomforingsfristberegnetfra as date) as gjennomforing_beregnet_fra,
    cast(avsluttetdato as date) as avsluttet_dato,
    lpad(avsl_kommunenummer, 4, '0') as kommunenummer,
    avsl_kommunenavn as kommunenavn,
    avslutningsaarsak,
    cast(sporforste as integer) as spor_forste,
    cast(sporsiste as integer) as spor_siste,
    prove_norsk_muntlig_resultat as prove_muntlig,
    prove_norsk_lytt_resultat as prove_lytt,
    prove_norsk_les_resultat as prove_les,
    prove_norsk_skriv_resultat as prove_skriv,
    -- Decimal, not double: the 10 % absence threshold is then decided exactly.
    cast(antalltimerfravaerintro as decimal(18, 6)) as fravaer_timer,
    cast(antalldagerfravaerintro as decimal(18, 6)) as fravaer_dager,
    cast(antalltimerdeltattnorsk as decimal(18, 6)) as timer_norsk,
    cast(antalltimerdeltattsamf as decimal(18, 6)) as timer_samfunnskunnskap,
    cast(antalltimerdeltattnknv as decimal(18, 6)) as timer_nknv,
    _source_file as source_file,
    _row_number as source_row,
    _file_sha256 as file_sha256
from delivered
where {{ not_quarantined('delivered') }}
