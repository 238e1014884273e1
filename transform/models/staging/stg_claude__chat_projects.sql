-- One row per claude.ai project and UTC day.
with source as (
  {{ latest_per_key(claude_source('chat_projects'), ['date', 'project_id']) }}
)
select
  {{ source_key(['date', 'project_id']) }} as project_day_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  cast(project_id as {{ dbt.type_string() }}) as project_id,
  cast(project_name as {{ dbt.type_string() }}) as project_name,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ count_of('distinct_conversation_count') }} as distinct_conversations,
  {{ count_of('message_count') }} as messages,
  cast(created_at as {{ dbt.type_timestamp() }}) as created_at
from source
