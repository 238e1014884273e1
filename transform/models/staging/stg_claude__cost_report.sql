-- One row per bucket and group (and cost/token type when grouped by them): exact spend in USD of all traffic.
{{ stg_report('cost_report', 'cost', per_user=false) }}
