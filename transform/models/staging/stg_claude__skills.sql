-- One row per skill and UTC day. Spend columns are in the row's currency (exact).
with source as (
  {{ latest_per_key(claude_source('skills'), ['date', 'skill_name']) }}
)
select
  {{ source_key(['date', 'skill_name']) }} as skill_day_key,
  cast(organization_label as {{ dbt.type_string() }}) as organization_label,
  {{ day_of('date') }} as activity_date,
  cast(skill_name as {{ dbt.type_string() }}) as skill_name,
  cast(skill_display_name as {{ dbt.type_string() }}) as skill_display_name,
  cast(share_status as {{ dbt.type_string() }}) as share_status,
  {{ count_of('distinct_user_count') }} as distinct_users,
  {{ count_of('invocation_count') }} as invocations,
  {{ count_of('enable_count') }} as enables,
  {{ money('estimated_overage_spend') }} as estimated_overage_spend,
  {{ money('attributed_list_price') }} as attributed_list_price,
  cast(currency as {{ dbt.type_string() }}) as currency
from source
