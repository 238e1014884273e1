{#- Helpers the staging models share: one row per key, and the two targets' quirks. -#}

{% macro latest_per_key(relation, keys) -%}
  {#- Keep one row per key: the latest load wins. target-postgres adds _sdc_batched_at /
      _sdc_extracted_at (add_record_metadata); target-duckdb does not, but it upserts on
      the key, so its rows are already unique and any order will do. `relation` comes from
      claude_source() (a table, or an empty stand-in when the tap skipped the stream).
      Rows always have `organization_label`: the tap's column when it wrote one (setting
      organization_label; then it leads the key, so two organizations' rows never collapse
      into one), else NULL. The var `organization_label` keeps one organization's rows. -#}
  {%- set names = source_columns(relation) -%}
  {%- set labelled = 'organization_label' in names -%}
  {%- set order = [] -%}
  {%- for column in ['_sdc_batched_at', '_sdc_extracted_at', '_sdc_received_at'] -%}
    {%- if column in names %}{% do order.append(column ~ ' desc nulls last') %}{% endif -%}
  {%- endfor -%}
  {%- set only = var('organization_label', none) %}
  select *
  from (
    select
      source_rows.*,
      {%- if not labelled %}
      cast(null as {{ dbt.type_string() }}) as organization_label,
      {%- endif %}
      row_number() over (
        partition by {{ ((['organization_label'] if labelled else []) + keys) | join(', ') }}
        order by {{ order | join(', ') if order else '1' }}
      ) as row_rank_
    from {{ relation }} as source_rows
  ) as ranked
  where row_rank_ = 1
  {%- if only is not none %}
    and organization_label = '{{ only | replace("'", "''") }}'
  {%- endif %}
{%- endmacro %}


{% macro dimension(column) -%}
  {#- A report dimension. Unattributed usage is '' in a key column (target-postgres) or
      '(unattributed)' (the duckdb-compat mapping): both become '(unattributed)'. NULL
      stays NULL: the report was not grouped by this dimension. -#}
  case
    when {{ column }} is null then null
    when cast({{ column }} as {{ dbt.type_string() }}) in ('', '(unattributed)') then '(unattributed)'
    else cast({{ column }} as {{ dbt.type_string() }})
  end
{%- endmacro %}


{% macro money(column, scale=8) -%}
  {#- Exact money, whatever the loader landed: a number column (target-postgres NUMERIC,
      Snowflake NUMBER) or decimal text (the duckdb-compat mapping; the tap's decimal
      strings, format x-singer.decimal, in a loader that keeps them as text). Cents carry up
      to 6 decimals, dollars 2 more: scale 8 keeps every digit of both (docs/warehouses.md).
      Never a float. -#}
  cast({{ column }} as {{ money_type(scale) }})
{%- endmacro %}


{% macro money_type(scale=8) -%}
  {#- The type a loaded money column is cast to (docs/warehouses.md). -#}
  {{- return(adapter.dispatch('money_type', 'claude_enterprise')(scale)) -}}
{%- endmacro %}

{% macro default__money_type(scale) -%}
  {{ decimal_type(38, scale) }}
{%- endmacro %}

{% macro postgres__money_type(scale) -%}
  {#- Unconstrained NUMERIC: every digit target-postgres loaded, whatever its scale. -#}
  numeric
{%- endmacro %}


{% macro decimal_type(precision, scale) -%}
  {#- An exact DECIMAL(precision, scale) in each warehouse's spelling. -#}
  {{- return(adapter.dispatch('decimal_type', 'claude_enterprise')(precision, scale)) -}}
{%- endmacro %}

{% macro default__decimal_type(precision, scale) -%}
  decimal({{ precision }}, {{ scale }})
{%- endmacro %}

{% macro snowflake__decimal_type(precision, scale) -%}
  number({{ precision }}, {{ scale }})
{%- endmacro %}

{% macro bigquery__decimal_type(precision, scale) -%}
  {#- NUMERIC holds 29 integer digits and 9 decimals, BIGNUMERIC 38 and 38; BigQuery's
      NUMERIC(p, s) wants p - s <= 29, so the plain type that holds the scale. -#}
  {{- 'numeric' if scale <= 9 else 'bignumeric' -}}
{%- endmacro %}


{% macro usd(expression) -%}
  {#- A computed amount (a sum, a difference), typed like every other: DECIMAL(38, 8). -#}
  cast({{ expression }} as {{ decimal_type(38, 8) }})
{%- endmacro %}


{% macro count_of(column) -%}
  cast({{ column }} as {{ dbt.type_bigint() }})
{%- endmacro %}


{% macro day_of(column) -%}
  {#- target-duckdb keeps `date` columns as text, target-postgres as DATE. -#}
  cast({{ column }} as date)
{%- endmacro %}


{% macro report_dimensions() -%}
  {{ return(['product', 'model', 'context_window', 'inference_geo', 'speed', 'rbac_group_id',
             'slack_channel_id', 'claude_tag_category', 'claude_tag_user_id']) }}
{%- endmacro %}


{% macro row_key(columns) -%}
  {#- A readable surrogate key over several columns (NULL shown as '~'). -#}
  concat_ws('|'{% for column in columns %}, coalesce(cast({{ column }} as {{ dbt.type_string() }}), '~'){% endfor %})
{%- endmacro %}
