{#- The four usage/cost report streams share one shape: a bucket, optionally a member,
    the grouped dimensions, then token counts or money. Their key is the bucket, the
    member and every dimension (whichever the *_group_by settings grouped by). -#}

{% macro stg_report(stream, kind, per_user) -%}
  {%- set dims = report_dimensions() + (['cost_type', 'token_type'] if kind == 'cost' else []) -%}
  {%- set keys = ['starting_at'] + (['user_id'] if per_user else []) + dims -%}
  {%- set read = keys + ['ending_at', 'requests', 'data_refreshed_at']
      + (['actor__name', 'actor__email_address', 'actor__deleted'] if per_user else [])
      + (['currency', 'amount_usd', 'list_amount_usd'] if kind == 'cost' else
         ['uncached_input_tokens', 'cache_read_input_tokens', 'cache_creation__ephemeral_5m_input_tokens',
          'cache_creation__ephemeral_1h_input_tokens', 'output_tokens', 'server_tool_use__web_search_requests']) -%}
  with source as (
    {{ latest_per_key(claude_source(stream, read), keys) }}
  )
  select
    {{ source_key(keys) }} as row_key,
    cast(organization_label as {{ dbt.type_string() }}) as organization_label,
    cast(starting_at as {{ dbt.type_timestamp() }}) as bucket_start,
    cast(ending_at as {{ dbt.type_timestamp() }}) as bucket_end,
    cast(cast(starting_at as {{ dbt.type_timestamp() }}) as date) as usage_date,
    {%- if per_user %}
    cast(user_id as {{ dbt.type_string() }}) as user_id,
    cast(actor__name as {{ dbt.type_string() }}) as actor_name,
    cast(actor__email_address as {{ dbt.type_string() }}) as actor_email_address,
    cast(actor__deleted as boolean) as actor_deleted,
    {%- endif %}
    {%- for dim in dims %}
    {{ dimension(dim) }} as {{ dim }},
    {%- endfor %}
    {%- if kind == 'cost' %}
    cast(currency as {{ dbt.type_string() }}) as currency,
    {{ money('amount_usd') }} as amount_usd,
    {{ money('list_amount_usd') }} as list_amount_usd,
    {%- else %}
    coalesce({{ count_of('uncached_input_tokens') }}, 0) as uncached_input_tokens,
    coalesce({{ count_of('cache_read_input_tokens') }}, 0) as cache_read_input_tokens,
    coalesce({{ count_of('cache_creation__ephemeral_5m_input_tokens') }}, 0) as cache_creation_5m_input_tokens,
    coalesce({{ count_of('cache_creation__ephemeral_1h_input_tokens') }}, 0) as cache_creation_1h_input_tokens,
    coalesce({{ count_of('output_tokens') }}, 0) as output_tokens,
    coalesce({{ count_of('server_tool_use__web_search_requests') }}, 0) as web_search_requests,
    {%- endif %}
    {{ count_of('requests') }} as requests,
    cast(data_refreshed_at as {{ dbt.type_timestamp() }}) as data_refreshed_at
  from source
{%- endmacro %}


{#- The beta usage and cost streams: one row per bucket and combination of the grouped
    dimensions (settings usage_stream_group_by / cost_stream_group_by). Every dimension is
    a top-level column; one not grouped by is NULL, an unattributed value '' (target-postgres)
    or '(unattributed)' (duckdb-compat): the key is the bucket and every dimension. -#}

{% macro usage_cost_dimensions(kind) -%}
  {{ return(['actor_id', 'actor_type', 'agent_id', 'api_key_id', 'claude_tag_category',
             'claude_tag_user_id', 'context_window', 'deployment_id', 'environment_id',
             'inference_geo', 'model', 'product', 'rbac_group_id', 'service_tier', 'session_id',
             'slack_channel_id', 'speed', 'user_profile_id', 'workspace_id']
            + (['cost_type', 'token_type'] if kind == 'cost' else [])) }}
{%- endmacro %}


{% macro stg_usage_cost(kind) -%}
  {%- set dims = usage_cost_dimensions(kind) -%}
  {%- set keys = ['starting_at'] + dims -%}
  {%- set tokens = {
      'uncached_input_tokens': 'usage__uncached_input_tokens',
      'cache_read_input_tokens': 'usage__cache_read_input_tokens',
      'cache_creation_5m_input_tokens': 'usage__cache_creation__ephemeral_5m_input_tokens',
      'cache_creation_1h_input_tokens': 'usage__cache_creation__ephemeral_1h_input_tokens',
      'output_tokens': 'usage__output_tokens',
      'web_search_requests': 'usage__server_tool_use__web_search_requests'} -%}
  {%- set read = keys + ['ending_at', 'organization_id', 'data_refreshed_at', 'group__actor__name',
                         'group__actor__email_address', 'group__actor__deleted']
      + (['cost__currency', 'cost__requests', 'amount', 'list_amount', 'amount_usd', 'list_amount_usd']
         if kind == 'cost' else (tokens.values() | list) + ['usage__total_tokens', 'usage__requests']) -%}
  with source as (
    {{ latest_per_key(claude_source(kind, read), keys) }}
  )
  select
    {{ source_key(keys) }} as row_key,
    cast(organization_label as {{ dbt.type_string() }}) as organization_label,
    cast(organization_id as {{ dbt.type_string() }}) as organization_id,
    cast(starting_at as {{ dbt.type_timestamp() }}) as bucket_start,
    cast(ending_at as {{ dbt.type_timestamp() }}) as bucket_end,
    cast(cast(starting_at as {{ dbt.type_timestamp() }}) as date) as usage_date,
    {%- for dim in dims %}
    {{ dimension(dim) }} as {{ dim }},
    {%- endfor %}
    cast(group__actor__name as {{ dbt.type_string() }}) as actor_name,
    cast(group__actor__email_address as {{ dbt.type_string() }}) as actor_email_address,
    cast(group__actor__deleted as boolean) as actor_deleted,
    {%- if kind == 'cost' %}
    cast(cost__currency as {{ dbt.type_string() }}) as currency,
    {{ money('amount') }} as amount_cents,
    {{ money('list_amount') }} as list_amount_cents,
    {{ money('amount_usd') }} as amount_usd,
    {{ money('list_amount_usd') }} as list_amount_usd,
    {{ count_of('cost__requests') }} as requests,
    {%- else %}
    {%- for name, column in tokens.items() %}
    coalesce({{ count_of(column) }}, 0) as {{ name }},
    {%- endfor %}
    {{ count_of('usage__total_tokens') }} as total_tokens,
    {{ count_of('usage__requests') }} as requests,
    {%- endif %}
    cast(data_refreshed_at as {{ dbt.type_timestamp() }}) as data_refreshed_at
  from source
{%- endmacro %}
