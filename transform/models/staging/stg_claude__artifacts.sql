-- One row per artifact type, shared or not, and UTC day.
with source as (
  {{ latest_per_key(claude_source('artifacts'), ['date', 'artifact_type', 'is_shared']) }}
)
select
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  cast(artifact_type as {{ dbt.type_string() }}) as artifact_type,
  cast(is_shared as boolean) as is_shared,
  {{ count_of('artifacts_created_count') }} as artifacts_created,
  {{ count_of('published_artifacts_created_count') }} as published_artifacts_created,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ source_key(['date', 'artifact_type', 'is_shared']) }} as artifact_day_key
from source
