-- One row per member, period and UTC day read (stream spend_limits_effective): the member's
-- effective limit and period-to-date spend, exact. A NULL limit is unlimited (is_unlimited);
-- 0 is included usage only: the two never merge.
with source as (
  {{ latest_per_key(claude_source('spend_limits_effective'), ['read_on', 'user_id', 'period']) }}
)
select
  {{ source_key(['read_on', 'user_id', 'period']) }} as effective_limit_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('read_on') }} as read_on,
  cast(user_id as {{ dbt.type_string() }}) as user_id,
  cast(actor__name as {{ dbt.type_string() }}) as actor_name,
  cast(actor__email_address as {{ dbt.type_string() }}) as actor_email_address,
  cast(period as {{ dbt.type_string() }}) as period,
  cast(currency as {{ dbt.type_string() }}) as currency,
  {{ money('amount') }} as limit_minor_units,
  {{ money('amount_usd') }} as limit_usd,
  amount is null as is_unlimited,
  {{ money('period_to_date_spend') }} as period_to_date_spend_minor_units,
  {{ money('period_to_date_spend_usd') }} as period_to_date_spend_usd,
  cast(source__type as {{ dbt.type_string() }}) as source_type,
  cast(source__seat_tier as {{ dbt.type_string() }}) as source_seat_tier,
  cast(source__rbac_group_id as {{ dbt.type_string() }}) as source_rbac_group_id,
  cast(source__service as {{ dbt.type_string() }}) as source_service,
  cast(spend_limit_id as {{ dbt.type_string() }}) as spend_limit_id
from source
