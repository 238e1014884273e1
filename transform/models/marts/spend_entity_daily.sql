-- One row per member or model and UTC day since its first spend, zero on days without
-- spend: the series the anomaly rule compares each day against.
with calendar as (
  select spend_date from {{ ref('spend_org_daily') }}
),

spend as (
  select 'member' as entity_type, user_id as entity_id, spend_date, sum(amount_usd) as amount_usd
  from {{ ref('spend_daily') }}
  group by 1, 2, 3
  union all
  select 'model' as entity_type, model as entity_id, spend_date, sum(amount_usd) as amount_usd
  from {{ ref('spend_model_product_daily') }}
  group by 1, 2, 3
),

entities as (
  select entity_type, entity_id, min(spend_date) as first_spend_date
  from spend
  group by 1, 2
)

select
  {{ row_key(['entities.entity_type', 'entities.entity_id', 'calendar.spend_date']) }} as entity_day_key,
  entities.entity_type,
  entities.entity_id,
  case
    when entities.entity_type = 'member' then coalesce(members.display_name, entities.entity_id)
    else entities.entity_id
  end as entity_label,
  calendar.spend_date,
  cast(coalesce(spend.amount_usd, 0) as {{ decimal_type(38, 8) }}) as amount_usd
from entities
inner join calendar on calendar.spend_date >= entities.first_spend_date
left join spend
  on spend.entity_type = entities.entity_type
  and spend.entity_id = entities.entity_id
  and spend.spend_date = calendar.spend_date
left join {{ ref('members') }} as members
  on entities.entity_type = 'member' and members.user_id = entities.entity_id
