-- One row per configured spend limit (stream spend_limits), at any scope: user, seat_tier,
-- rbac_group, organization_service, organization (an open set). NULL limit: no numeric cap.
with source as (
  {{ latest_per_key(claude_source('spend_limits'), ['id']) }}
)
select
  {{ source_key(['id']) }} as spend_limit_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  cast(id as {{ dbt.type_string() }}) as spend_limit_id,
  {{ day_of('read_on') }} as read_on,
  cast(scope__type as {{ dbt.type_string() }}) as scope_type,
  cast(scope__user_id as {{ dbt.type_string() }}) as scope_user_id,
  cast(scope__seat_tier as {{ dbt.type_string() }}) as scope_seat_tier,
  cast(scope__rbac_group_id as {{ dbt.type_string() }}) as scope_rbac_group_id,
  cast(scope__service as {{ dbt.type_string() }}) as scope_service,
  cast(period as {{ dbt.type_string() }}) as period,
  cast(currency as {{ dbt.type_string() }}) as currency,
  {{ money('amount') }} as limit_minor_units,
  {{ money('amount_usd') }} as limit_usd,
  amount is null as is_unlimited,
  cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
  cast(updated_at as {{ dbt.type_timestamp() }}) as updated_at
from source
