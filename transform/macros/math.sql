{#- Ratios and medians that behave the same on DuckDB and PostgreSQL. Sums and
    differences of money stay exact DECIMAL; a ratio or a projection divides, which
    DuckDB does in double precision, so those are rounded estimates (to 0.01). -#}

{% macro pct(numerator, denominator) -%}
  cast(round(cast(100 * ({{ numerator }}) as {{ decimal_type(38, 8) }}) / nullif({{ denominator }}, 0), 2) as {{ decimal_type(12, 2) }})
{%- endmacro %}


{% macro scale_money(amount, multiplier, divisor) -%}
  {#- amount * multiplier / divisor, rounded to a cent (a projection, not a fact). -#}
  cast(round(({{ amount }}) * ({{ multiplier }}) / nullif({{ divisor }}, 0), 2) as {{ decimal_type(38, 2) }})
{%- endmacro %}


{% macro median(expression) -%}
  {{ return(adapter.dispatch('median', 'claude_enterprise')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
  cast(percentile_cont(0.5) within group (order by {{ expression }}) as {{ decimal_type(38, 8) }})
{%- endmacro %}

{% macro duckdb__median(expression) -%}
  cast(median({{ expression }}) as {{ decimal_type(38, 8) }})
{%- endmacro %}


{% macro month_of(day) -%}
  cast({{ dbt.date_trunc('month', day) }} as date)
{%- endmacro %}


{% macro days_in_month(month_start) -%}
  cast(extract(day from cast({{ dbt.dateadd('day', -1, dbt.dateadd('month', 1, month_start)) }} as date)) as integer)
{%- endmacro %}


{% macro day_of_month(day) -%}
  cast(extract(day from {{ day }}) as integer)
{%- endmacro %}


{% macro spend_data_start(day) -%}
  {#- The first day the warehouse's spend covers: the earliest `day` (an aggregate over the
      spend days), or var spend_synced_from when it is earlier (the tap's start_date, for an
      organization that spent nothing on its first synced days). -#}
  {%- set synced_from = var('spend_synced_from', none) -%}
  {%- if synced_from -%}
    least(min({{ day }}), cast('{{ synced_from }}' as date))
  {%- else -%}
    min({{ day }})
  {%- endif -%}
{%- endmacro %}
