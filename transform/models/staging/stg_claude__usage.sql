-- One row per bucket and combination of the grouped dimensions: token counts (beta Usage API;
-- Enterprise and Console organizations).
{{ stg_usage_cost('usage') }}
