{#- Composite-key relationship: every row of the model has a row in `to` with the same key values
    (dbt's built-in `relationships` takes one column only). -#}
{% test every_row_has_partner(model, to, columns) %}
select {% for column in columns %}child.{{ column }}{{ ", " if not loop.last }}{% endfor %}, count(*) as n_rows
from {{ model }} as child
where not exists (
    select 1 from {{ to }} as parent
    where {% for column in columns %}parent.{{ column }} = child.{{ column }}{{ " and " if not loop.last }}{% endfor %}
)
group by {% for column in columns %}child.{{ column }}{{ ", " if not loop.last }}{% endfor %}
{% endtest %}
