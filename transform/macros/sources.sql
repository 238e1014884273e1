{#- The staging models' one way in to a stream's table: present or absent, one organization
    or several. -#}

{% macro claude_source(table, columns=none) -%}
  {#- The stream's table. The tap skips an endpoint the organization does not have (403/404:
      plugins, artifacts, the beta usage and cost; a Console organization has only usage and
      cost), and then no table exists. Instead of failing the build, staging reads an empty
      stand-in with the columns the model reads (`columns`, else those listed for the table
      in _sources.yml), all text: the staging model's own casts type them, so the empty view
      has the same column types as a full one, and the marts build (empty where they need it).
      Returns a relation, or the stand-in as a parenthesised subquery. -#}
  {%- set relation = source('claude_enterprise', table) -%}
  {%- if not introspecting() -%}
    {{- return(relation) -}}
  {%- endif -%}
  {%- set found = adapter.get_relation(database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
  {%- if found is not none -%}
    {{- return(found) -}}
  {%- endif -%}
  {%- if columns is none -%}
    {%- set node = graph.sources.get('source.' ~ project_name ~ '.claude_enterprise.' ~ table) -%}
    {%- set columns = (node.columns.keys() | list) if node else [] -%}
  {%- endif -%}
  {%- if not columns -%}
    {{- exceptions.raise_compiler_error('Table ' ~ relation ~ ' does not exist and _sources.yml lists no columns for it') -}}
  {%- endif -%}
  {{- log('claude_enterprise: ' ~ relation ~ ' does not exist (the tap skipped that stream, or has not loaded it yet); ' ~ model.name ~ ' is empty', info=true) -}}
  {%- set typed = [] -%}
  {%- for column in columns -%}
    {%- do typed.append('cast(null as ' ~ dbt.type_string() ~ ') as ' ~ column) -%}
  {%- endfor -%}
  {{- return('(select ' ~ typed | join(', ') ~ ' where 1 = 0)') -}}
{%- endmacro %}


{% macro source_columns(relation) -%}
  {#- Lower-case column names of a table, or [] for a stand-in (a subquery string). -#}
  {%- if not introspecting() or relation is string -%}
    {{- return([]) -}}
  {%- endif -%}
  {{- return(adapter.get_columns_in_relation(relation) | map(attribute='name') | map('lower') | list) -}}
{%- endmacro %}


{% macro source_key(columns) -%}
  {#- row_key() led by the organization label when the row has one (concat_ws skips NULL on
      both databases), so one warehouse's organizations never share a key; without a label
      the key is exactly row_key(columns). -#}
  concat_ws('|', organization_label, {{ row_key(columns) }})
{%- endmacro %}


{% macro introspecting() -%}
  {#- May the models look at the warehouse? Not while parsing, nor in `dbt compile
      --no-introspect` (no connection: the Snowflake and BigQuery compile check,
      tests/test_dbt_adapters.py). Then every source is taken as present, without the
      optional organization_label and _sdc_* columns. -#}
  {{- return(execute and not (flags.INTROSPECT is defined and flags.INTROSPECT is sameas false)) -}}
{%- endmacro %}
