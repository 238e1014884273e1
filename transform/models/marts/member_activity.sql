-- One row per member: when they were last active, how often lately, with which
-- products, what they spent, and whether their seat looks unused.
with as_of as (
  select max(activity_date) as as_of_date from {{ ref('stg_claude__summaries') }}
),

activity as (
  select
    user_activity.*,
    {{ dbt.datediff('user_activity.activity_date', 'as_of.as_of_date', 'day') }} as days_ago
  from {{ ref('stg_claude__user_activity') }} as user_activity
  cross join as_of
),

per_member as (
  select
    user_id,
    min(activity_date) as first_active_date,
    max(activity_date) as last_active_date,
    sum(case when days_ago between 0 and 6 then 1 else 0 end) as active_days_7d,
    sum(case when days_ago between 0 and 29 then 1 else 0 end) as active_days_30d,
    max(case when days_ago between 0 and 29 and used_chat then 1 else 0 end) as chat_30d,
    max(case when days_ago between 0 and 29 and used_claude_code then 1 else 0 end) as claude_code_30d,
    max(case when days_ago between 0 and 29 and used_cowork then 1 else 0 end) as cowork_30d,
    max(case when days_ago between 0 and 29 and used_claude_design then 1 else 0 end) as claude_design_30d,
    max(case when days_ago between 0 and 29 and used_office_agent then 1 else 0 end) as office_agent_30d,
    max(case when days_ago between 0 and 29 and used_science then 1 else 0 end) as science_30d,
    sum(case when days_ago between 0 and 29 then chat_messages + cowork_messages + design_messages + office_messages + science_messages else 0 end) as messages_30d,
    sum(case when days_ago between 0 and 29 then claude_code_sessions else 0 end) as claude_code_sessions_30d,
    sum(case when days_ago between 0 and 29 then claude_code_commits else 0 end) as claude_code_commits_30d
  from activity
  group by user_id
),

spend as (
  select
    spend_daily.user_id,
    sum(case when {{ dbt.datediff('spend_daily.spend_date', 'as_of.as_of_date', 'day') }} between 0 and 29 then amount_usd else 0 end) as spend_30d_usd,
    sum(case when spend_daily.spend_month = {{ month_of('as_of.as_of_date') }} then amount_usd else 0 end) as spend_month_to_date_usd
  from {{ ref('spend_daily') }} as spend_daily
  cross join as_of
  group by spend_daily.user_id
)

select
  members.user_id,
  members.email_address,
  members.display_name,
  members.rbac_group_id,
  members.rbac_group_name,
  as_of.as_of_date,
  per_member.first_active_date,
  per_member.last_active_date,
  {{ dbt.datediff('per_member.last_active_date', 'as_of.as_of_date', 'day') }} as days_since_last_active,
  cast(coalesce(per_member.active_days_7d, 0) as integer) as active_days_7d,
  cast(coalesce(per_member.active_days_30d, 0) as integer) as active_days_30d,
  cast(coalesce(per_member.chat_30d, 0) + coalesce(per_member.claude_code_30d, 0)
    + coalesce(per_member.cowork_30d, 0) + coalesce(per_member.claude_design_30d, 0)
    + coalesce(per_member.office_agent_30d, 0) + coalesce(per_member.science_30d, 0) as integer) as products_used_30d,
  concat_ws(', ',
    case when per_member.chat_30d = 1 then 'chat' end,
    case when per_member.claude_code_30d = 1 then 'claude_code' end,
    case when per_member.cowork_30d = 1 then 'cowork' end,
    case when per_member.claude_design_30d = 1 then 'claude_design' end,
    case when per_member.office_agent_30d = 1 then 'office_agent' end,
    case when per_member.science_30d = 1 then 'science' end
  ) as products_30d,
  cast(coalesce(per_member.messages_30d, 0) as {{ dbt.type_bigint() }}) as messages_30d,
  cast(coalesce(per_member.claude_code_sessions_30d, 0) as {{ dbt.type_bigint() }}) as claude_code_sessions_30d,
  cast(coalesce(per_member.claude_code_commits_30d, 0) as {{ dbt.type_bigint() }}) as claude_code_commits_30d,
  cast(coalesce(spend.spend_30d_usd, 0) as {{ decimal_type(38, 8) }}) as spend_30d_usd,
  cast(coalesce(spend.spend_month_to_date_usd, 0) as {{ decimal_type(38, 8) }}) as spend_month_to_date_usd,
  members.is_deleted,
  case
    when members.is_deleted then 'removed'
    when not members.has_engagement then 'no_seat_activity'
    when per_member.active_days_7d > 0 then 'active_7d'
    when per_member.active_days_30d > 0 then 'active_30d'
    else 'inactive_30d'
  end as activity_status,
  coalesce(not members.is_deleted and members.has_engagement and per_member.active_days_30d = 0, false)
    as is_inactive_seat
from {{ ref('members') }} as members
cross join as_of
left join per_member on per_member.user_id = members.user_id
left join spend on spend.user_id = members.user_id
