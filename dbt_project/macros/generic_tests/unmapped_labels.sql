{#- A delivered label that its code-list seed does not know. Returns each such label with the number
    of rows carrying it, so the failure names what an analyst must add to the seed. On a column,
    the column is the label. -#}
{% test unmapped_labels(model, mapped_when, label=none, column_name=none) %}
    {%- set label = label or column_name %}
select {{ label }} as unmapped_label, count(*) as n_rows
from {{ model }}
where {{ label }} is not null
  and not ({{ mapped_when }})
group by {{ label }}
{% endtest %}
