-- One row per member, bucket and group: token counts of the member's seat traffic.
{{ stg_report('user_usage_report', 'usage', per_user=true) }}
