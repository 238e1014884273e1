-- One row per member seen in any stream: the latest name, e-mail and RBAC group.
with activity as (
  select
    user_id,
    email_address,
    rbac_group_id,
    rbac_group_name,
    row_number() over (partition by user_id order by activity_date desc) as recency
  from {{ ref('stg_claude__user_activity') }}
),

cost as (
  select
    user_id,
    actor_name,
    actor_email_address,
    actor_deleted,
    row_number() over (partition by user_id order by bucket_start desc, row_key) as recency
  from {{ ref('stg_claude__user_cost_report') }}
),

ids as (
  select user_id from activity
  union
  select user_id from cost
  union
  select user_id from {{ ref('stg_claude__user_usage_report') }}
)

select
  ids.user_id,
  coalesce(activity.email_address, cost.actor_email_address) as email_address,
  coalesce(cost.actor_name, activity.email_address, ids.user_id) as display_name,
  coalesce(cost.actor_deleted, false) as is_deleted,
  activity.user_id is not null as has_engagement,
  activity.rbac_group_id,
  activity.rbac_group_name
from ids
left join activity on activity.user_id = ids.user_id and activity.recency = 1
left join cost on cost.user_id = ids.user_id and cost.recency = 1
