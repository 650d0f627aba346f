{#- Custom schema names are the warehouse's contract (staging, intermediate, marts, seeds):
    use them verbatim instead of dbt's default `<target_schema>_<custom>` prefixing. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
