-- One row per UTC day, workspace, API key, actor, product and model: spend from the beta Cost
-- API (stream cost), the only spend a Console organization (Admin key) has. A dimension the
-- stream was not grouped by (cost_stream_group_by) is '(all)'; an unattributed one
-- '(unattributed)'. Empty when the organization has no cost endpoint.
{%- set dims = ['workspace_id', 'api_key_id', 'actor_type', 'actor_id', 'product', 'model'] %}
select
  {{ row_key(['usage_date'] + dims) }} as spend_key,
  usage_date as spend_date,
  {{ month_of('usage_date') }} as spend_month,
  {%- for dim in dims %}
  {{ dim }},
  {%- endfor %}
  {{ usd('sum(amount_usd)') }} as amount_usd,
  {{ usd('sum(list_amount_usd)') }} as list_amount_usd,
  {{ usd('sum(list_amount_usd) - sum(amount_usd)') }} as discount_usd,
  {{ pct('sum(list_amount_usd) - sum(amount_usd)', 'sum(list_amount_usd)') }} as discount_pct,
  cast(sum(coalesce(requests, 0)) as {{ dbt.type_bigint() }}) as requests
from (
  select
    usage_date,
    {%- for dim in dims %}
    coalesce({{ dim }}, '(all)') as {{ dim }},
    {%- endfor %}
    amount_usd,
    list_amount_usd,
    requests
  from {{ ref('stg_claude__cost') }}
) as cost
group by {% for i in range(2, dims | length + 4) %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor %}
