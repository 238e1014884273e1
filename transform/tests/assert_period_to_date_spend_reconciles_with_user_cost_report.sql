-- Each member's period-to-date spend (Spend Limits API, last read) agrees with the month's
-- spend in user_cost_report up to that day, within the documented freshness and revision
-- lag: cost data is fresh within about 24 hours and revised until about 7 days after the
-- month ends, so the member's spend of the last two days read is the tolerance (plus a cent
-- for the API's 3-decimal rounding). Only monthly limits of a month the warehouse covers.
with latest as (
  select *
  from {{ ref('stg_claude__spend_limits_effective') }}
  where period = 'monthly'
    and read_on = (select max(read_on) from {{ ref('stg_claude__spend_limits_effective') }})
),

month_to_date as (
  select
    latest.user_id,
    coalesce(sum(cost.amount_usd), 0) as mtd_usd,
    coalesce(sum(case when cost.usage_date >= {{ dbt.dateadd('day', -1, 'latest.read_on') }} then cost.amount_usd end), 0) as recent_usd
  from latest
  left join {{ ref('stg_claude__user_cost_report') }} as cost
    on cost.user_id = latest.user_id
    and cost.usage_date >= {{ month_of('latest.read_on') }}
    and cost.usage_date <= latest.read_on
  group by 1
)

select latest.user_id, latest.period_to_date_spend_usd, month_to_date.mtd_usd, month_to_date.recent_usd
from latest
inner join month_to_date on month_to_date.user_id = latest.user_id
where abs(latest.period_to_date_spend_usd - month_to_date.mtd_usd) > month_to_date.recent_usd + 0.01
  and (select min(usage_date) from {{ ref('stg_claude__user_cost_report') }}) <= {{ month_of('latest.read_on') }}
