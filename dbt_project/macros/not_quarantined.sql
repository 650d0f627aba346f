{#- Row-level problems are loaded to raw and listed in quality.quarantine; staging keeps only the
    delivered rows that are not listed there. -#}
{% macro not_quarantined(relation_alias) -%}
    not exists (
        select 1
        from {{ source('quality', 'quarantine') }} as quarantine
        where quarantine.file_sha256 = {{ relation_alias }}._file_sha256
          and quarantine.row_number = {{ relation_alias }}._row_number
    )
{%- endmacro %}
