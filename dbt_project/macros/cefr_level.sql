{#- Norwegian test results and ratings on the numeric scale of harmonisation.md:
    Under A1 = 0, A1 = 1, A2 = 2, B1 = 3, B2 = 4. Anything else (Usikker, empty) is no result.
    Ingestion has checked the labels against this list (trimmed, any letter case), so lower() is
    all the normalising needed. -#}
{% macro cefr_level(expression) -%}
    case lower({{ expression }})
        when 'under a1' then 0
        when 'a1' then 1
        when 'a2' then 2
        when 'b1' then 3
        when 'b2' then 4
    end
{%- endmacro %}
