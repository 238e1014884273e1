-- One row per UTC day, product and model: the organization's exact spend (all traffic).
select
  {{ row_key(['usage_date', "coalesce(product, '(unattributed)')", "coalesce(model, '(unattributed)')"]) }} as spend_key,
  usage_date as spend_date,
  {{ month_of('usage_date') }} as spend_month,
  coalesce(product, '(unattributed)') as product,
  coalesce(model, '(unattributed)') as model,
  {{ usd('sum(amount_usd)') }} as amount_usd,
  {{ usd('sum(list_amount_usd)') }} as list_amount_usd,
  {{ usd('sum(list_amount_usd) - sum(amount_usd)') }} as discount_usd,
  {{ pct('sum(list_amount_usd) - sum(amount_usd)', 'sum(list_amount_usd)') }} as discount_pct,
  cast(sum(coalesce(requests, 0)) as {{ dbt.type_bigint() }}) as requests
from {{ ref('stg_claude__cost_report') }}
group by 2, 3, 4, 5
