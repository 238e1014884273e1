-- One row per member and period, as last read: the effective spend limit (stream
-- spend_limits_effective) against the period-to-date spend, and who is near (>= var
-- spend_limit_near_pct, default 80 %) or over it. Unlimited members are 'unlimited'; a
-- limit of 0 (included usage only) is 'over' as soon as anything is spent.
with latest as (
  select *
  from {{ ref('stg_claude__spend_limits_effective') }}
  where read_on = (select max(read_on) from {{ ref('stg_claude__spend_limits_effective') }})
)

select
  effective_limit_key,
  organization_label,
  read_on,
  user_id,
  actor_name,
  actor_email_address,
  period,
  currency,
  source_type,
  coalesce(source_rbac_group_id, source_seat_tier, source_service) as source_id,
  is_unlimited,
  limit_usd,
  period_to_date_spend_usd,
  {{ pct('period_to_date_spend_usd', 'limit_usd') }} as pct_used,
  case
    when is_unlimited then 'unlimited'
    when period_to_date_spend_usd >= limit_usd and (limit_usd > 0 or period_to_date_spend_usd > 0) then 'over'
    when period_to_date_spend_usd * 100 >= limit_usd * {{ var('spend_limit_near_pct', 80) }} and limit_usd > 0 then 'near'
    else 'ok'
  end as limit_status
from latest
