-- One row per UTC day: how many members use Claude, against the seats paid for.
with summaries as (
  select * from {{ ref('stg_claude__summaries') }}
),

activity as (
  select
    activity_date,
    count(*) as members_with_activity,
    sum(case when used_chat then 1 else 0 end) as chat_active_members,
    sum(case when used_claude_code then 1 else 0 end) as claude_code_active_members,
    sum(case when used_cowork then 1 else 0 end) as cowork_active_members,
    sum(case when used_claude_design then 1 else 0 end) as claude_design_active_members,
    sum(case when used_office_agent then 1 else 0 end) as office_agent_active_members,
    sum(case when used_science then 1 else 0 end) as science_active_members
  from {{ ref('stg_claude__user_activity') }}
  group by activity_date
)

select
  summaries.activity_date,
  summaries.daily_active_users,
  summaries.weekly_active_users,
  summaries.monthly_active_users,
  summaries.assigned_seats,
  summaries.pending_invites,
  {{ pct('summaries.daily_active_users', 'summaries.assigned_seats') }} as daily_utilization_pct,
  {{ pct('summaries.weekly_active_users', 'summaries.assigned_seats') }} as weekly_utilization_pct,
  {{ pct('summaries.monthly_active_users', 'summaries.assigned_seats') }} as monthly_utilization_pct,
  greatest(summaries.assigned_seats - summaries.monthly_active_users, 0) as inactive_seats,
  cast(coalesce(activity.members_with_activity, 0) as {{ dbt.type_bigint() }}) as members_with_activity,
  cast(coalesce(activity.chat_active_members, 0) as {{ dbt.type_bigint() }}) as chat_active_members,
  cast(coalesce(activity.claude_code_active_members, 0) as {{ dbt.type_bigint() }}) as claude_code_active_members,
  cast(coalesce(activity.cowork_active_members, 0) as {{ dbt.type_bigint() }}) as cowork_active_members,
  cast(coalesce(activity.claude_design_active_members, 0) as {{ dbt.type_bigint() }}) as claude_design_active_members,
  cast(coalesce(activity.office_agent_active_members, 0) as {{ dbt.type_bigint() }}) as office_agent_active_members,
  cast(coalesce(activity.science_active_members, 0) as {{ dbt.type_bigint() }}) as science_active_members
from summaries
left join activity on activity.activity_date = summaries.activity_date
