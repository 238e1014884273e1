-- Reconciliation, per UTC day: the members' spend (per-user cost report, seat traffic)
-- never exceeds the organization's (cost report, all traffic), and equals it exactly
-- when var reconcile_members_equal_org is true (an organization without non-seat traffic,
-- such as the sandbox). Returns the days that fail.
select spend_date, amount_usd, members_amount_usd
from {{ ref('spend_org_daily') }}
where members_amount_usd > amount_usd
{%- if var('reconcile_members_equal_org') %}
   or members_amount_usd <> amount_usd
{%- endif %}
