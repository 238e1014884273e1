-- One row per month, member, product and model: spend so far, and for the month still
-- running a straight-line projection to its last day. Past months: projection = spend.
-- A partial month (the data starts after its 1st; spend_org_daily) is flagged and not
-- projected: its spend covers only the days synced.
with as_of as (
  select max(spend_date) as as_of_date from {{ ref('spend_daily') }}
),

monthly as (
  select
    spend_month,
    user_id,
    product,
    model,
    sum(amount_usd) as amount_usd,
    sum(list_amount_usd) as list_amount_usd,
    sum(requests) as requests,
    count(distinct spend_date) as days_with_spend
  from {{ ref('spend_daily') }}
  group by 1, 2, 3, 4
),

coverage as (
  select distinct spend_month, is_partial_month, month_covered_from
  from {{ ref('spend_org_daily') }}
),

calendar as (
  select
    monthly.*,
    coalesce(coverage.is_partial_month, false) as is_partial_month,
    coalesce(coverage.month_covered_from, monthly.spend_month) as month_covered_from,
    as_of.as_of_date,
    {{ days_in_month('monthly.spend_month') }} as days_in_month,
    case
      when {{ month_of('as_of.as_of_date') }} = monthly.spend_month
        then {{ day_of_month('as_of.as_of_date') }}
      else {{ days_in_month('monthly.spend_month') }}
    end as days_elapsed
  from monthly
  cross join as_of
  left join coverage on coverage.spend_month = monthly.spend_month
)

select
  {{ row_key(['spend_month', 'user_id', 'product', 'model']) }} as spend_key,
  spend_month,
  user_id,
  product,
  model,
  {{ usd('amount_usd') }} as month_to_date_usd,
  {{ usd('list_amount_usd') }} as month_to_date_list_usd,
  {{ usd('list_amount_usd - amount_usd') }} as discount_usd,
  {{ pct('list_amount_usd - amount_usd', 'list_amount_usd') }} as discount_pct,
  cast(requests as {{ dbt.type_bigint() }}) as requests,
  cast(days_with_spend as integer) as days_with_spend,
  days_elapsed < days_in_month as is_month_running,
  is_partial_month,
  month_covered_from,
  cast(case
    when is_partial_month then null
    when days_elapsed < days_in_month then {{ scale_money('amount_usd', 'days_in_month', 'days_elapsed') }}
    else cast(amount_usd as {{ decimal_type(38, 2) }})
  end as {{ decimal_type(38, 2) }}) as projected_month_end_usd
from calendar
