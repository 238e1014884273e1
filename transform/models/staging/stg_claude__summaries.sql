-- One row per UTC day: the organization's headline adoption numbers.
with source as (
  {{ latest_per_key(claude_source('summaries'), ['date']) }}
)
select
  {{ source_key(['date']) }} as summary_day_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  {{ count_of('daily_active_user_count') }} as daily_active_users,
  {{ count_of('weekly_active_user_count') }} as weekly_active_users,
  {{ count_of('monthly_active_user_count') }} as monthly_active_users,
  {{ count_of('assigned_seat_count') }} as assigned_seats,
  {{ count_of('pending_invite_count') }} as pending_invites,
  cast(daily_adoption_rate as {{ decimal_type(12, 2) }}) as daily_adoption_rate_pct,
  cast(weekly_adoption_rate as {{ decimal_type(12, 2) }}) as weekly_adoption_rate_pct,
  cast(monthly_adoption_rate as {{ decimal_type(12, 2) }}) as monthly_adoption_rate_pct,
  {{ count_of('chat_daily_active_user_count') }} as chat_daily_active_users,
  {{ count_of('claude_code_daily_active_user_count') }} as claude_code_daily_active_users,
  {{ count_of('cowork_daily_active_user_count') }} as cowork_daily_active_users,
  {{ count_of('claude_design_daily_active_user_count') }} as claude_design_daily_active_users,
  {{ count_of('office_agent_daily_active_user_count') }} as office_agent_daily_active_users,
  {{ count_of('science_daily_active_user_count') }} as science_daily_active_users,
  {{ count_of('chat_cowork_unified_daily_active_user_count') }} as chat_cowork_unified_daily_active_users
from source
