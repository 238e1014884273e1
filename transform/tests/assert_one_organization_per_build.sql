-- The marts are one organization's. A warehouse that holds several (the tap's setting
-- organization_label) is modelled one organization at a time:
--   dbt build --vars '{organization_label: acme}'   (a schema per organization)
-- Without the var, rows of several organizations would be summed together: this test fails
-- instead, naming the labels found.
with labels as (
  {%- for model in ['summaries', 'user_activity', 'user_cost_report', 'cost_report', 'usage', 'cost'] %}
  select distinct organization_label from {{ ref('stg_claude__' ~ model) }}
  {%- if not loop.last %} union{% endif %}
  {%- endfor %}
)
select organization_label
from labels
where (select count(distinct coalesce(organization_label, '~')) from labels) > 1
