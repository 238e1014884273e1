-- One row per connector (MCP server) and UTC day.
with source as (
  {{ latest_per_key(claude_source('connectors'), ['date', 'connector_name']) }}
)
select
  {{ source_key(['date', 'connector_name']) }} as connector_day_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  cast(connector_name as {{ dbt.type_string() }}) as connector_name,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ count_of('read_call_count') }} as read_calls,
  {{ count_of('write_call_count') }} as write_calls,
  {{ count_of('unclassified_call_count') }} as unclassified_calls
from source
