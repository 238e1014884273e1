-- One row per member and UTC day they were active: what they did in each product.
with source as (
  {{ latest_per_key(claude_source('user_activity'), ['date', 'user_id']) }}
),

typed as (
  select
    {{ source_key(['date', 'user_id']) }} as user_day_key,
    cast(organization_label as {{ dbt.type_string() }}) as organization_label,
    {{ day_of('date') }} as activity_date,
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(user__email_address as {{ dbt.type_string() }}) as email_address,
    cast(rbac_group_id as {{ dbt.type_string() }}) as rbac_group_id,
    cast(rbac_group_name as {{ dbt.type_string() }}) as rbac_group_name,
    coalesce({{ count_of('chat_metrics__message_count') }}, 0) as chat_messages,
    coalesce({{ count_of('chat_metrics__distinct_conversation_count') }}, 0) as chat_conversations,
    coalesce({{ count_of('claude_code_metrics__core_metrics__distinct_session_count') }}, 0) as claude_code_sessions,
    coalesce({{ count_of('claude_code_metrics__core_metrics__commit_count') }}, 0) as claude_code_commits,
    coalesce({{ count_of('claude_code_metrics__core_metrics__pull_request_count') }}, 0) as claude_code_pull_requests,
    coalesce({{ count_of('claude_code_metrics__core_metrics__lines_of_code__added_count') }}, 0) as claude_code_lines_added,
    coalesce({{ count_of('claude_code_metrics__core_metrics__lines_of_code__removed_count') }}, 0) as claude_code_lines_removed,
    coalesce({{ count_of('cowork_metrics__distinct_session_count') }}, 0) as cowork_sessions,
    coalesce({{ count_of('cowork_metrics__message_count') }}, 0) as cowork_messages,
    coalesce({{ count_of('design_metrics__distinct_session_count') }}, 0) as design_sessions,
    coalesce({{ count_of('design_metrics__message_count') }}, 0) as design_messages,
    coalesce({{ count_of('office_metrics__excel__message_count') }}, 0)
      + coalesce({{ count_of('office_metrics__outlook__message_count') }}, 0)
      + coalesce({{ count_of('office_metrics__powerpoint__message_count') }}, 0)
      + coalesce({{ count_of('office_metrics__word__message_count') }}, 0) as office_messages,
    coalesce({{ count_of('science_metrics__distinct_session_count') }}, 0) as science_sessions,
    coalesce({{ count_of('science_metrics__message_count') }}, 0) as science_messages,
    coalesce({{ count_of('web_search_count') }}, 0) as web_searches
  from source
)

select
  *,
  chat_messages > 0 or chat_conversations > 0 as used_chat,
  claude_code_sessions > 0 or claude_code_commits > 0 or claude_code_pull_requests > 0 as used_claude_code,
  cowork_sessions > 0 or cowork_messages > 0 as used_cowork,
  design_sessions > 0 or design_messages > 0 as used_claude_design,
  office_messages > 0 as used_office_agent,
  science_sessions > 0 or science_messages > 0 as used_science
from typed
