-- The queue: every pending request for a higher spend limit (stream
-- spend_limit_increase_requests), oldest first, with the requester's live limit and
-- period-to-date spend.
select
  increase_request_key,
  organization_label,
  request_id,
  user_id,
  actor_name,
  actor_email_address,
  period,
  created_at,
  is_unlimited,
  current_limit_usd,
  period_to_date_spend_usd,
  {{ pct('period_to_date_spend_usd', 'current_limit_usd') }} as pct_used
from {{ ref('stg_claude__spend_limit_increase_requests') }}
where status = 'pending'
