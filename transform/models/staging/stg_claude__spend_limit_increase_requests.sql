-- One row per increase request (stream spend_limit_increase_requests), its latest status:
-- pending, approved or denied (an open set). A pending one has the requester's live limit
-- and period-to-date spend (spend_summary), exact.
with source as (
  {{ latest_per_key(claude_source('spend_limit_increase_requests'), ['id']) }}
)
select
  {{ source_key(['id']) }} as increase_request_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  cast(id as {{ dbt.type_string() }}) as request_id,
  {{ day_of('read_on') }} as read_on,
  cast(user_id as {{ dbt.type_string() }}) as user_id,
  cast(actor__name as {{ dbt.type_string() }}) as actor_name,
  cast(actor__email_address as {{ dbt.type_string() }}) as actor_email_address,
  cast(status as {{ dbt.type_string() }}) as status,
  cast(period as {{ dbt.type_string() }}) as period,
  cast(created_at as {{ dbt.type_timestamp() }}) as created_at,
  cast(resolved_at as {{ dbt.type_timestamp() }}) as resolved_at,
  cast(resolved_by__type as {{ dbt.type_string() }}) as resolved_by_type,
  cast(coalesce(resolved_by__user_id, resolved_by__scoped_api_key_id) as {{ dbt.type_string() }}) as resolved_by_id,
  {{ money('spend_summary__amount_usd') }} as current_limit_usd,
  spend_summary__amount is null and spend_summary__currency is not null as is_unlimited,
  {{ money('spend_summary__period_to_date_spend_usd') }} as period_to_date_spend_usd
from source
