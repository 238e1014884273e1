-- One row per bucket and group: token counts of all the organization's traffic.
{{ stg_report('usage_report', 'usage', per_user=false) }}
