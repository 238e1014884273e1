-- Reconciliation, per UTC day: the members' spend (per-user cost report, seat traffic)
-- never exceeds the organization's (cost report, all traffic), and equals it exactly
-- when var reconcile_members_equal_org is true (an organization without non-seat traffic:
-- no API keys, no service accounts; the environment variable
-- CLAUDE_ENTERPRISE_RECONCILE_EXACT=true does the same). Returns the days that fail.
{%- set exact = env_var('CLAUDE_ENTERPRISE_RECONCILE_EXACT', var('reconcile_members_equal_org') | string) | lower in ('true', '1') %}
select spend_date, amount_usd, members_amount_usd
from {{ ref('spend_org_daily') }}
where members_amount_usd > amount_usd
{%- if exact %}
   or members_amount_usd <> amount_usd
{%- endif %}
