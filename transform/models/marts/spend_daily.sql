-- One row per UTC day, member, product and model: the member's exact spend (seat
-- traffic, from the per-user cost report), at discounted and list price.
with costs as (
  select
    usage_date as spend_date,
    user_id,
    coalesce(product, '(unattributed)') as product,
    coalesce(model, '(unattributed)') as model,
    sum(amount_usd) as amount_usd,
    sum(list_amount_usd) as list_amount_usd,
    sum(coalesce(requests, 0)) as requests
  from {{ ref('stg_claude__user_cost_report') }}
  group by 1, 2, 3, 4
)

select
  {{ row_key(['spend_date', 'user_id', 'product', 'model']) }} as spend_key,
  spend_date,
  {{ month_of('spend_date') }} as spend_month,
  user_id,
  product,
  model,
  {{ usd('amount_usd') }} as amount_usd,
  {{ usd('list_amount_usd') }} as list_amount_usd,
  {{ usd('list_amount_usd - amount_usd') }} as discount_usd,
  {{ pct('list_amount_usd - amount_usd', 'list_amount_usd') }} as discount_pct,
  cast(requests as {{ dbt.type_bigint() }}) as requests
from costs
