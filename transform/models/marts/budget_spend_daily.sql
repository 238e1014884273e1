-- One row per budget and UTC day: the spend that counts against it. Budgets come from the
-- organization's synced spend limits (stream spend_limits_effective, monthly, last read):
--   member       = the member's effective monthly limit (an unlimited member has none; a
--                  limit of 0, included usage only, is a budget of 0);
--   rbac_group   = the sum of the limits of the members whose limit comes from that group
--                  (a group limit is a per-member default, not a pool), against those
--                  members' seat spend;
--   organization = the sum of every finite member limit, against all traffic (cost report).
-- Only when no limits were synced (an organization without the Spend Limits API, or no
-- admin_api_key) the seed `budgets` is used, its groups' members from the seed
-- `rbac_group_members` or user_activity.rbac_group_id. Member spend: the member's seat
-- spend, matched by user_id or e-mail.
with limits as (
  select *
  from {{ ref('stg_claude__spend_limits_effective') }}
  where period = 'monthly'
    and read_on = (select max(read_on) from {{ ref('stg_claude__spend_limits_effective') }})
),

synced as (
  select 'member' as scope, user_id as scope_id, coalesce(actor_name, user_id) as label,
         limit_usd as monthly_budget_usd, 'spend_limits' as budget_source
  from limits
  where not is_unlimited
  union all
  select 'rbac_group', source_rbac_group_id, source_rbac_group_id, sum(limit_usd), 'spend_limits'
  from limits
  where source_type = 'rbac_group' and source_rbac_group_id is not null
  group by 2, 3
  union all
  select 'organization', '', 'Whole organization (sum of member limits)', sum(limit_usd),
         'spend_limits'
  from limits
  having count(limit_usd) > 0
),

seeded as (
  select scope, coalesce(scope_id, '') as scope_id, coalesce(label, scope_id, scope) as label,
         monthly_budget_usd, 'seed' as budget_source
  from {{ ref('budgets') }}
  where not exists (select 1 from limits)
),

budgets as (
  select
    {{ row_key(['scope', 'scope_id']) }} as budget_key,
    scope,
    scope_id,
    label,
    cast(monthly_budget_usd as {{ decimal_type(38, 8) }}) as monthly_budget_usd,
    budget_source
  from (
    select * from synced
    union all
    select * from seeded
  ) as all_budgets
),

group_members as (
  -- Synced budgets: the members whose limit comes from the group; seeded: the seed's lists.
  select user_id, source_rbac_group_id as rbac_group_id, 'spend_limits' as budget_source
  from limits
  where source_type = 'rbac_group' and source_rbac_group_id is not null
  union
  select members.user_id, seed.rbac_group_id, 'seed'
  from {{ ref('rbac_group_members') }} as seed
  inner join {{ ref('members') }} as members
    on lower(seed.member) = lower(members.user_id) or lower(seed.member) = lower(members.email_address)
  union
  select user_id, rbac_group_id, 'seed' from {{ ref('members') }} where rbac_group_id is not null
),

member_daily as (
  select spend_date, user_id, sum(amount_usd) as amount_usd
  from {{ ref('spend_daily') }}
  group by 1, 2
),

scoped as (
  select budgets.budget_key, org.spend_date, org.amount_usd
  from budgets
  inner join {{ ref('spend_org_daily') }} as org on budgets.scope = 'organization'
  union all
  select budgets.budget_key, member_daily.spend_date, member_daily.amount_usd
  from budgets
  inner join {{ ref('members') }} as members
    on budgets.scope = 'member'
    and (lower(budgets.scope_id) = lower(members.user_id) or lower(budgets.scope_id) = lower(members.email_address))
  inner join member_daily on member_daily.user_id = members.user_id
  union all
  select budgets.budget_key, member_daily.spend_date, member_daily.amount_usd
  from budgets
  inner join group_members
    on budgets.scope = 'rbac_group'
    and group_members.rbac_group_id = budgets.scope_id
    and group_members.budget_source = budgets.budget_source
  inner join member_daily on member_daily.user_id = group_members.user_id
),

calendar as (
  select spend_date, is_partial_month, month_covered_from from {{ ref('spend_org_daily') }}
)

select
  {{ row_key(['budgets.budget_key', 'calendar.spend_date']) }} as budget_day_key,
  budgets.budget_key,
  budgets.scope,
  budgets.scope_id,
  budgets.label,
  budgets.monthly_budget_usd,
  budgets.budget_source,
  calendar.spend_date,
  {{ month_of('calendar.spend_date') }} as spend_month,
  calendar.is_partial_month,
  calendar.month_covered_from,
  cast(coalesce(sum(scoped.amount_usd), 0) as {{ decimal_type(38, 8) }}) as amount_usd
from budgets
cross join calendar
left join scoped on scoped.budget_key = budgets.budget_key and scoped.spend_date = calendar.spend_date
group by 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
