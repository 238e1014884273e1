-- One row per UTC day: the organization's exact spend (all traffic, cost report), the
-- members' share (seat traffic, per-user cost report), month to date, and a straight-
-- line month-end projection made with what was known that day. The month the data starts
-- in, when it starts after the 1st, is a partial month: flagged, its "month to date" sums
-- only the days synced (from month_covered_from), and it gets no projection.
with org as (
  select usage_date as spend_date, sum(amount_usd) as amount_usd, sum(list_amount_usd) as list_amount_usd
  from {{ ref('stg_claude__cost_report') }}
  group by 1
),

members as (
  select usage_date as spend_date, sum(amount_usd) as amount_usd
  from {{ ref('stg_claude__user_cost_report') }}
  group by 1
),

days as (
  select spend_date from org
  union
  select spend_date from members
),

daily as (
  select
    days.spend_date,
    {{ month_of('days.spend_date') }} as spend_month,
    cast(coalesce(org.amount_usd, 0) as {{ decimal_type(38, 8) }}) as amount_usd,
    cast(coalesce(org.list_amount_usd, 0) as {{ decimal_type(38, 8) }}) as list_amount_usd,
    cast(coalesce(members.amount_usd, 0) as {{ decimal_type(38, 8) }}) as members_amount_usd
  from days
  left join org on org.spend_date = days.spend_date
  left join members on members.spend_date = days.spend_date
),

coverage as (
  select {{ spend_data_start('spend_date') }} as data_start_date from days
),

running as (
  select
    daily.*,
    case
      when coverage.data_start_date > daily.spend_month then coverage.data_start_date
      else daily.spend_month
    end as month_covered_from,
    sum(amount_usd) over (
      partition by spend_month order by spend_date rows between unbounded preceding and current row
    ) as month_to_date_usd,
    sum(list_amount_usd) over (
      partition by spend_month order by spend_date rows between unbounded preceding and current row
    ) as month_to_date_list_usd,
    {{ day_of_month('spend_date') }} as day_of_month,
    {{ days_in_month('spend_month') }} as days_in_month
  from daily
  cross join coverage
)

select
  spend_date,
  spend_month,
  amount_usd,
  list_amount_usd,
  {{ usd('list_amount_usd - amount_usd') }} as discount_usd,
  {{ pct('list_amount_usd - amount_usd', 'list_amount_usd') }} as discount_pct,
  members_amount_usd,
  {{ usd('amount_usd - members_amount_usd') }} as non_seat_amount_usd,
  {{ usd('month_to_date_usd') }} as month_to_date_usd,
  {{ usd('month_to_date_list_usd') }} as month_to_date_list_usd,
  day_of_month,
  days_in_month,
  month_covered_from > spend_month as is_partial_month,
  month_covered_from,
  cast(case
    when month_covered_from = spend_month
      then {{ scale_money('month_to_date_usd', 'days_in_month', 'day_of_month') }}
  end as {{ decimal_type(38, 2) }}) as projected_month_end_usd
from running
