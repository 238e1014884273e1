-- One row per UTC day and product: active members (engagement), requests and tokens
-- (usage report) and exact spend (cost report), all traffic of the organization.
with engaged as (
  {%- set products = ['chat', 'claude_code', 'cowork', 'claude_design', 'office_agent', 'science'] %}
  {%- for product in products %}
  select activity_date as usage_date, '{{ product }}' as product,
         sum(case when used_{{ product }} then 1 else 0 end) as active_members
  from {{ ref('stg_claude__user_activity') }}
  group by activity_date
  {%- if not loop.last %}
  union all
  {%- endif %}
  {%- endfor %}
),

usage as (
  select
    usage_date,
    coalesce(product, '(unattributed)') as product,
    sum(requests) as requests,
    sum(uncached_input_tokens + cache_read_input_tokens + cache_creation_5m_input_tokens
        + cache_creation_1h_input_tokens + output_tokens) as tokens
  from {{ ref('stg_claude__usage_report') }}
  group by 1, 2
),

cost as (
  select usage_date, coalesce(product, '(unattributed)') as product, sum(amount_usd) as amount_usd
  from {{ ref('stg_claude__cost_report') }}
  group by 1, 2
),

keys as (
  select usage_date, product from engaged where active_members > 0
  union
  select usage_date, product from usage
  union
  select usage_date, product from cost
)

select
  keys.usage_date,
  keys.product,
  {{ row_key(['keys.usage_date', 'keys.product']) }} as day_product_key,
  cast(coalesce(engaged.active_members, 0) as {{ dbt.type_bigint() }}) as active_members,
  cast(coalesce(usage.requests, 0) as {{ dbt.type_bigint() }}) as requests,
  cast(coalesce(usage.tokens, 0) as {{ dbt.type_bigint() }}) as tokens,
  cast(coalesce(cost.amount_usd, 0) as {{ decimal_type(38, 8) }}) as amount_usd
from keys
left join engaged on engaged.usage_date = keys.usage_date and engaged.product = keys.product
left join usage on usage.usage_date = keys.usage_date and usage.product = keys.product
left join cost on cost.usage_date = keys.usage_date and cost.product = keys.product
