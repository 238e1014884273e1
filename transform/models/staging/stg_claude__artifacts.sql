-- One row per artifact type, shared or not, and UTC day.
with source as (
  {{ latest_per_key(source('claude_enterprise', 'artifacts'), ['date', 'artifact_type', 'is_shared']) }}
)
select
  {{ day_of('date') }} as activity_date,
  cast(artifact_type as {{ dbt.type_string() }}) as artifact_type,
  cast(is_shared as boolean) as is_shared,
  {{ count_of('artifacts_created_count') }} as artifacts_created,
  {{ count_of('published_artifacts_created_count') }} as published_artifacts_created,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ row_key(['date', 'artifact_type', 'is_shared']) }} as artifact_day_key
from source
