{#- Delivered labels are matched case-insensitively and ignoring surrounding spaces (landing-zone.md).
    The report itself spells the same label with hyphen or en dash and with or without spaces around
    a slash ("Helsefremmende tiltak/ fysisk fostring"), so those differences are not significant either. -#}
{% macro label_key(expression) -%}
    regexp_replace(
        regexp_replace(
            lower(trim(replace(replace({{ expression }}, '–', '-'), '—', '-'))),
            '\s+', ' ', 'g'),
        '\s*/\s*', '/', 'g')
{%- endmacro %}
