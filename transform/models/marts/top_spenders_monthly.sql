-- The members who spent the most each month (var top_spenders_per_month), with their
-- share of all members' spend and the product and model they spent most on.
with per_member as (
  select spend_month, user_id, sum(amount_usd) as amount_usd, sum(list_amount_usd) as list_amount_usd
  from {{ ref('spend_daily') }}
  group by 1, 2
),

favourite as (
  select
    spend_month, user_id, product, model,
    row_number() over (partition by spend_month, user_id order by sum(amount_usd) desc, product, model) as position
  from {{ ref('spend_daily') }}
  group by 1, 2, 3, 4
),

ranked as (
  select
    per_member.*,
    sum(amount_usd) over (partition by spend_month) as month_amount_usd,
    row_number() over (partition by spend_month order by amount_usd desc, user_id) as spend_rank
  from per_member
)

select
  {{ row_key(['ranked.spend_month', 'ranked.user_id']) }} as spender_key,
  ranked.spend_month,
  cast(ranked.spend_rank as integer) as spend_rank,
  ranked.user_id,
  members.display_name,
  members.email_address,
  {{ usd('ranked.amount_usd') }} as amount_usd,
  {{ usd('ranked.list_amount_usd') }} as list_amount_usd,
  {{ pct('ranked.amount_usd', 'ranked.month_amount_usd') }} as share_of_members_pct,
  favourite.product as top_product,
  favourite.model as top_model
from ranked
left join {{ ref('members') }} as members on members.user_id = ranked.user_id
left join favourite
  on favourite.spend_month = ranked.spend_month and favourite.user_id = ranked.user_id and favourite.position = 1
where ranked.spend_rank <= {{ var('top_spenders_per_month') }}
