"""What the report reads from the marts: portable SQL, one query per need.

Each query names its mart; ``{schema}`` is the schema dbt built them in.
"""

from __future__ import annotations

QUERIES: dict[str, str] = {
    "adoption": """
        select activity_date, daily_active_users, weekly_active_users, monthly_active_users,
               assigned_seats, inactive_seats, daily_utilization_pct, weekly_utilization_pct,
               monthly_utilization_pct
        from {schema}.adoption_daily order by activity_date
    """,
    "product_usage": """
        select usage_date, product, active_members, requests, tokens, amount_usd
        from {schema}.product_usage_daily order by usage_date, product
    """,
    "spend_model_product": """
        select spend_date, product, model, amount_usd, list_amount_usd
        from {schema}.spend_model_product_daily order by spend_date, model, product
    """,
    "spend_org": """
        select spend_date, spend_month, amount_usd, list_amount_usd, discount_pct,
               month_to_date_usd, projected_month_end_usd, non_seat_amount_usd,
               is_partial_month, month_covered_from
        from {schema}.spend_org_daily order by spend_date
    """,
    "top_spenders": """
        select spend_month, spend_rank, user_id, display_name, email_address, amount_usd,
               list_amount_usd, share_of_members_pct, top_product, top_model
        from {schema}.top_spenders_monthly
        where spend_month = (select max(spend_month) from {schema}.top_spenders_monthly)
        order by spend_rank
    """,
    "budgets": """
        select label, scope, scope_id, spend_month, as_of_date, monthly_budget_usd, spent_usd,
               pct_used, projected_month_end_usd, projected_pct_used, overrun_date,
               projected_overrun_date, status, is_partial_month, month_covered_from
        from {schema}.budget_status
        where spend_month = (select max(spend_month) from {schema}.budget_status)
        order by coalesce(projected_pct_used, pct_used) desc, label
    """,
    "spend_limits": """
        select user_id, actor_name, actor_email_address, read_on, period, source_type, source_id,
               is_unlimited, limit_usd, period_to_date_spend_usd, pct_used, limit_status
        from {schema}.spend_limit_status
        order by case limit_status when 'over' then 0 when 'near' then 1 when 'ok' then 2
                 else 3 end, pct_used desc, period_to_date_spend_usd desc, user_id
    """,
    "limit_requests": """
        select request_id, actor_name, actor_email_address, user_id, period, created_at,
               is_unlimited, current_limit_usd, period_to_date_spend_usd, pct_used
        from {schema}.spend_limit_requests_pending
        order by created_at, request_id
    """,
    "anomalies": """
        select entity_type, entity_id, entity_label, spend_date, amount_usd,
               baseline_median_usd, threshold_usd, robust_z
        from {schema}.spend_anomalies order by spend_date, entity_type, entity_label
    """,
    "members": """
        select activity_status, count(*) as members,
               sum(case when is_inactive_seat then 1 else 0 end) as inactive
        from {schema}.member_activity group by activity_status order by activity_status
    """,
}
