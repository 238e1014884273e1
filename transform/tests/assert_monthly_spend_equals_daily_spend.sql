-- Reconciliation: each member's month equals the sum of their days, to the last digit,
-- and the model/product breakdown of the organization adds up to its daily total.
with daily as (
  select spend_month, user_id, sum(amount_usd) as amount_usd
  from {{ ref('spend_daily') }} group by 1, 2
),
monthly as (
  select spend_month, user_id, sum(month_to_date_usd) as amount_usd
  from {{ ref('spend_monthly') }} group by 1, 2
),
by_model as (
  select spend_date, sum(amount_usd) as amount_usd
  from {{ ref('spend_model_product_daily') }} group by 1
)
select 'member-month' as check_name, cast(daily.spend_month as {{ dbt.type_string() }}) as at_key
from daily
full outer join monthly on monthly.spend_month = daily.spend_month and monthly.user_id = daily.user_id
where daily.amount_usd is distinct from monthly.amount_usd
union all
select 'model-product-day', cast(org.spend_date as {{ dbt.type_string() }})
from {{ ref('spend_org_daily') }} as org
left join by_model on by_model.spend_date = org.spend_date
where coalesce(by_model.amount_usd, 0) <> org.amount_usd
