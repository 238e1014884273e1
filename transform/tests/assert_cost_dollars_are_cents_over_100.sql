-- Exact money in the cost stream: each row's dollars are its cents / 100, to the last digit
-- (DECIMAL on both databases). Returns the rows that differ.
select row_key, amount_cents, amount_usd, list_amount_cents, list_amount_usd
from {{ ref('stg_claude__cost') }}
where amount_usd * 100 <> amount_cents
   or list_amount_usd * 100 <> list_amount_cents
