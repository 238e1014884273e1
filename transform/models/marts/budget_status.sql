-- One row per budget and month: spend so far against the monthly budget, the month-end
-- projection, and the day the budget was (or, at the current pace, will be) overrun.
-- budget_source: spend_limits (the synced limits) or seed (budgets.csv, the fallback).
-- A partial month (the data starts after its 1st; spend_org_daily) has no projection: its
-- status says over_budget or at_risk only from the spend already known, else partial_month.
with daily as (
  select
    budget_spend_daily.*,
    sum(amount_usd) over (
      partition by budget_key, spend_month order by spend_date
      rows between unbounded preceding and current row
    ) as cumulative_usd
  from {{ ref('budget_spend_daily') }} as budget_spend_daily
),

months as (
  select
    budget_key,
    scope,
    scope_id,
    label,
    monthly_budget_usd,
    budget_source,
    spend_month,
    coalesce(is_partial_month, false) as is_partial_month,
    coalesce(month_covered_from, spend_month) as month_covered_from,
    max(spend_date) as as_of_date,
    sum(amount_usd) as spent_usd,
    min(case when cumulative_usd > monthly_budget_usd then spend_date end) as overrun_date
  from daily
  group by 1, 2, 3, 4, 5, 6, 7, 8, 9
),

paced as (
  select
    months.*,
    {{ day_of_month('as_of_date') }} as days_elapsed,
    {{ days_in_month('spend_month') }} as days_in_month
  from months
),

projected as (
  select
    paced.*,
    cast(case
      when is_partial_month then null
      when days_elapsed < days_in_month then {{ scale_money('spent_usd', 'days_in_month', 'days_elapsed') }}
      else cast(spent_usd as {{ decimal_type(38, 2) }})
    end as {{ decimal_type(38, 2) }}) as projected_month_end_usd
  from paced
)

select
  {{ row_key(['budget_key', 'spend_month']) }} as budget_month_key,
  budget_key,
  scope,
  scope_id,
  label,
  budget_source,
  spend_month,
  is_partial_month,
  month_covered_from,
  as_of_date,
  monthly_budget_usd,
  {{ usd('spent_usd') }} as spent_usd,
  {{ usd('monthly_budget_usd - spent_usd') }} as remaining_usd,
  {{ pct('spent_usd', 'monthly_budget_usd') }} as pct_used,
  projected_month_end_usd,
  {{ pct('projected_month_end_usd', 'monthly_budget_usd') }} as projected_pct_used,
  overrun_date,
  case
    when overrun_date is not null then overrun_date
    when not is_partial_month and days_elapsed < days_in_month and spent_usd > 0 and projected_month_end_usd > monthly_budget_usd
      then cast({{ dbt.dateadd('day', 'cast(floor((monthly_budget_usd - spent_usd) * days_elapsed / spent_usd) as integer) + 1', 'as_of_date') }} as date)
  end as projected_overrun_date,
  case
    when overrun_date is not null then 'over_budget'
    -- A budget of 0 (a spend limit of 0: included usage only) is at risk only once spent.
    when coalesce(projected_month_end_usd, spent_usd) * 100 >= monthly_budget_usd * {{ var('budget_at_risk_pct') }}
      and (monthly_budget_usd > 0 or coalesce(projected_month_end_usd, spent_usd) > 0) then 'at_risk'
    when is_partial_month then 'partial_month'
    else 'on_track'
  end as status
from projected
