-- Days on which a member's or a model's spend was far above its own recent baseline:
-- more than `anomaly_mad_threshold` robust standard deviations (1.4826 x the median
-- absolute deviation) above the median of its days with spend among the previous
-- `anomaly_baseline_days` days, with at least `anomaly_min_baseline_days` such days and
-- at least `anomaly_min_spend_usd` spent that day. Days without spend are left out of the
-- baseline: for someone who works with Claude twice a week, a usual working day is not an
-- anomaly. Median and MAD are robust: one earlier spike does not hide the next.
with daily as (
  select * from {{ ref('spend_entity_daily') }}
),

baseline_rows as (
  select
    current_day.entity_type,
    current_day.entity_id,
    current_day.entity_label,
    current_day.spend_date,
    current_day.amount_usd,
    past_day.amount_usd as past_amount_usd
  from daily as current_day
  inner join daily as past_day
    on past_day.entity_type = current_day.entity_type
    and past_day.entity_id = current_day.entity_id
    and past_day.spend_date < current_day.spend_date
    and past_day.spend_date >= {{ dbt.dateadd('day', -var('anomaly_baseline_days'), 'current_day.spend_date') }}
    and past_day.amount_usd > 0
),

medians as (
  select
    entity_type, entity_id, entity_label, spend_date, amount_usd,
    count(*) as baseline_days,
    {{ median('past_amount_usd') }} as baseline_median_usd
  from baseline_rows
  group by 1, 2, 3, 4, 5
),

deviations as (
  select
    medians.entity_type, medians.entity_id, medians.spend_date,
    {{ median('abs(baseline_rows.past_amount_usd - medians.baseline_median_usd)') }} as baseline_mad_usd
  from medians
  inner join baseline_rows
    on baseline_rows.entity_type = medians.entity_type
    and baseline_rows.entity_id = medians.entity_id
    and baseline_rows.spend_date = medians.spend_date
  group by 1, 2, 3
),

scored as (
  select
    medians.*,
    deviations.baseline_mad_usd,
    greatest(
      cast(1.4826 * deviations.baseline_mad_usd as {{ decimal_type(38, 8) }}),
      cast({{ var('anomaly_min_deviation_usd') }} as {{ decimal_type(38, 8) }})
    ) as robust_deviation_usd
  from medians
  inner join deviations
    on deviations.entity_type = medians.entity_type
    and deviations.entity_id = medians.entity_id
    and deviations.spend_date = medians.spend_date
)

select
  {{ row_key(['entity_type', 'entity_id', 'spend_date']) }} as anomaly_key,
  entity_type,
  entity_id,
  entity_label,
  spend_date,
  {{ usd('amount_usd') }} as amount_usd,
  baseline_median_usd,
  baseline_mad_usd,
  cast(baseline_median_usd + {{ var('anomaly_mad_threshold') }} * robust_deviation_usd as {{ decimal_type(38, 8) }}) as threshold_usd,
  cast(round((amount_usd - baseline_median_usd) / robust_deviation_usd, 2) as {{ decimal_type(12, 2) }}) as robust_z,
  {{ usd('amount_usd - baseline_median_usd') }} as excess_usd,
  cast(baseline_days as integer) as baseline_days
from scored
where baseline_days >= {{ var('anomaly_min_baseline_days') }}
  and amount_usd >= {{ var('anomaly_min_spend_usd') }}
  and amount_usd > baseline_median_usd + {{ var('anomaly_mad_threshold') }} * robust_deviation_usd
