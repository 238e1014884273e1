{#- The four usage/cost report streams share one shape: a bucket, optionally a member,
    the grouped dimensions, then token counts or money. Their key is the bucket, the
    member and every dimension (whichever the *_group_by settings grouped by). -#}

{% macro stg_report(stream, kind, per_user) -%}
  {%- set dims = report_dimensions() + (['cost_type', 'token_type'] if kind == 'cost' else []) -%}
  {%- set keys = ['starting_at'] + (['user_id'] if per_user else []) + dims -%}
  with source as (
    {{ latest_per_key(source('claude_enterprise', stream), keys) }}
  )
  select
    {{ row_key(keys) }} as row_key,
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
