-- One row per plugin and UTC day (a plugin is its name and id: one name can come from two
-- marketplaces).
with source as (
  {{ latest_per_key(claude_source('plugins'), ['date', 'plugin_name', 'plugin_id']) }}
)
select
  {{ source_key(['date', 'plugin_name', 'plugin_id']) }} as plugin_day_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  cast(plugin_name as {{ dbt.type_string() }}) as plugin_name,
  cast(plugin_id as {{ dbt.type_string() }}) as plugin_id,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ count_of('install_count') }} as installs,
  {{ count_of('invocation_count') }} as invocations
from source
