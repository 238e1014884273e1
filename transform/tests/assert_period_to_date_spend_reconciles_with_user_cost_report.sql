-- Each member's period-to-date spend (Spend Limits API, last read) agrees with the month's
-- spend in user_cost_report, within the documented lag: cost data is fresh within about
-- 24 hours (and revised for days after), so the member's spend of the last two days read
-- (read_on and the day before) is the tolerance, plus a cent for the API's rounding to
-- 3 decimals of a cent. Spend only grows within a month, so:
--   * below: the API's spend covers every day the warehouse holds, less that tolerance;
--   * above: only when the warehouse holds the day read itself (a sync without end_date)
--     can the API's spend be bounded; a warehouse that stops earlier does not know the
--     days between, so only the lower bound is checked.
-- Only monthly limits, and only when the warehouse covers the month from its 1st.
with latest as (
  select *
  from {{ ref('stg_claude__spend_limits_effective') }}
  where period = 'monthly'
    and read_on = (select max(read_on) from {{ ref('stg_claude__spend_limits_effective') }})
),

coverage as (
  select min(usage_date) as covered_from, max(usage_date) as covered_to
  from {{ ref('stg_claude__user_cost_report') }}
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

select
  latest.user_id,
  latest.read_on,
  latest.period_to_date_spend_usd,
  month_to_date.mtd_usd,
  month_to_date.recent_usd,
  coverage.covered_to
from latest
inner join month_to_date on month_to_date.user_id = latest.user_id
cross join coverage
where coverage.covered_from <= {{ month_of('latest.read_on') }}
  and (
    latest.period_to_date_spend_usd < month_to_date.mtd_usd - month_to_date.recent_usd - 0.01
    or (
      coverage.covered_to >= latest.read_on
      and latest.period_to_date_spend_usd > month_to_date.mtd_usd + month_to_date.recent_usd + 0.01
    )
  )
