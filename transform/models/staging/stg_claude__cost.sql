-- One row per bucket and combination of the grouped dimensions: exact spend, in cents and USD
-- (beta Cost API; Enterprise and Console organizations).
{{ stg_usage_cost('cost') }}
