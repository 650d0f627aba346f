{#- Which Jobbsjansen schemes the analysis takes (harmonisation.md): `ordning_a`, as report 13/2022
    (its footnote 2), or `alle`. A misspelt scope would silently keep every row, so it is refused
    at compile time. -#}
{% macro js_scope() -%}
    {%- set scope = var('js_scope', 'ordning_a') -%}
    {%- if scope not in ['ordning_a', 'alle'] -%}
        {{ exceptions.raise_compiler_error(
            "var js_scope must be ordning_a or alle, got '" ~ scope ~ "'"
        ) }}
    {%- endif -%}
    {{- return(scope) -}}
{%- endmacro %}
