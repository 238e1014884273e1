-- Each member's period-to-date spend (Spend Limits API, last read) agrees with the month's
-- spend in user_cost_report, within the documented lag: cost data is fresh within about
-- 24 hours (and revised for days after), so the member's spend of the last two days read
-- (read_on and the day before) is the tolerance, plus a cent for the API's rounding to
-- 3 decimals of a cent. Spend only grows within a month, so:
--   * below: the API's spend covers every day the warehouse holds, less that tolerance;
--   * above: only when the warehouse holds the day read itself (a sync without end_date)
--     can the API's spend be bounded; a warehouse that stops earlier does not know the
--     days between, so only the lower bound is checked.
-- Only monthly limits, and only when the warehouse covers the month from its 1st. Per
-- organization (organization_label), so a warehouse of several organizations checks each.
with last_read as (
  select coalesce(organization_label, '') as org, max(read_on) as read_on
  from {{ ref('stg_claude__spend_limits_effective') }}
  group by 1
),

latest as (
  select effective.*, last_read.org
  from {{ ref('stg_claude__spend_limits_effective') }} as effective
  inner join last_read
    on last_read.org = coalesce(effective.organization_label, '')
    and last_read.read_on = effective.read_on
  where effective.period = 'monthly'
),

coverage as (
  select coalesce(organization_label, '') as org, min(usage_date) as covered_from,
         max(usage_date) as covered_to
  from {{ ref('stg_claude__user_cost_report') }}
  group by 1
),

month_to_date as (
  select
    latest.org,
    latest.user_id,
    coalesce(sum(cost.amount_usd), 0) as mtd_usd,
    coalesce(sum(case when cost.usage_date >= {{ dbt.dateadd('day', -1, 'latest.read_on') }} then cost.amount_usd end), 0) as recent_usd
  from latest
  left join {{ ref('stg_claude__user_cost_report') }} as cost
    on cost.user_id = latest.user_id
    and coalesce(cost.organization_label, '') = latest.org
    and cost.usage_date >= {{ month_of('latest.read_on') }}
    and cost.usage_date <= latest.read_on
  group by 1, 2
)

select
  latest.organization_label,
  latest.user_id,
  latest.read_on,
  latest.period_to_date_spend_usd,
  month_to_date.mtd_usd,
  month_to_date.recent_usd,
  coverage.covered_to
from latest
inner join month_to_date on month_to_date.org = latest.org and month_to_date.user_id = latest.user_id
inner join coverage on coverage.org = latest.org
where coverage.covered_from <= {{ month_of('latest.read_on') }}
  and (
    latest.period_to_date_spend_usd < month_to_date.mtd_usd - month_to_date.recent_usd - 0.01
    or (
      coverage.covered_to >= latest.read_on
      and latest.period_to_date_spend_usd > month_to_date.mtd_usd + month_to_date.recent_usd + 0.01
    )
  )
