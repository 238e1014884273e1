-- Honest first month: a month is partial exactly when the data starts after its 1st (the
-- earliest day with spend, or var spend_synced_from), and a partial month is never
-- projected, in spend_org_daily, spend_monthly and budget_status alike; every other month
-- is covered from its 1st and projected. Returns the rows that break the rule.
with coverage as (
  select {{ spend_data_start('spend_date') }} as data_start_date
  from {{ ref('spend_org_daily') }}
),

org as (
  select
    org.spend_date,
    org.spend_month,
    org.is_partial_month,
    org.month_covered_from,
    org.projected_month_end_usd,
    org.spend_month = {{ month_of('coverage.data_start_date') }}
      and {{ day_of_month('coverage.data_start_date') }} > 1 as should_be_partial
  from {{ ref('spend_org_daily') }} as org
  cross join coverage
),

months as (
  select distinct spend_month, is_partial_month from org
)

select 'spend_org_daily' as model_name, cast(spend_date as {{ dbt.type_string() }}) as at_key
from org
where is_partial_month is distinct from should_be_partial
   or (is_partial_month and projected_month_end_usd is not null)
   or (not is_partial_month and (projected_month_end_usd is null or month_covered_from <> spend_month))
union all
select 'spend_monthly', cast(monthly.spend_month as {{ dbt.type_string() }})
from {{ ref('spend_monthly') }} as monthly
left join months on months.spend_month = monthly.spend_month
where monthly.is_partial_month is distinct from months.is_partial_month
   or (monthly.is_partial_month and monthly.projected_month_end_usd is not null)
union all
select 'budget_status', cast(budget.spend_month as {{ dbt.type_string() }})
from {{ ref('budget_status') }} as budget
left join months on months.spend_month = budget.spend_month
where budget.is_partial_month is distinct from months.is_partial_month
   or (budget.is_partial_month and (budget.projected_month_end_usd is not null
       or budget.projected_pct_used is not null
       or budget.projected_overrun_date is distinct from budget.overrun_date))
