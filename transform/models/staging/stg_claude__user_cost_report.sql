-- One row per member, bucket and group (and cost/token type when grouped by them): exact spend in USD.
{{ stg_report('user_cost_report', 'cost', per_user=true) }}
