{#- The active coding of NIR end reasons. A misspelt variant would silently match no seed column,
    so it is refused at compile time. -#}
{% macro outcome_variant() -%}
    {%- set variant = var('outcome_variant', 'report_text') -%}
    {%- if variant not in ['report_text', 'table8_literal'] -%}
        {{ exceptions.raise_compiler_error(
            "var outcome_variant must be report_text or table8_literal, got '" ~ variant ~ "'"
        ) }}
    {%- endif -%}
    {{- return(variant) -}}
{%- endmacro %}
