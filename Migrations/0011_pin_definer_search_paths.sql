-- Why: a SECURITY DEFINER function runs with its owner's rights, and `SET search_path = public`
-- does not keep pg_temp out: when a path does not name pg_temp, PostgreSQL searches it FIRST for
-- tables. The service role may create temporary tables (PUBLIC holds TEMP on the database), so a
-- session of it could create a temporary `users` table holding a user of its choosing, grant its
-- reading to PUBLIC, and `auth_user_by_email` (run as the owner, row-level security bypassed)
-- would read that table instead of ours: a login as anyone, with any role (tried: it returned
-- the intruder as `admin`). Naming pg_temp last, as migrations 0006 and 0007 do, closes it. The
-- trigger function of 0005 gets the same path (it runs as the caller, but a shadowed
-- `debtor_keys` would still turn an erasure into a no-op).
ALTER FUNCTION auth_user_by_email(text) SET search_path = public, pg_temp;
ALTER FUNCTION auth_session(bytea, integer) SET search_path = public, pg_temp;
ALTER FUNCTION auth_api_key(text) SET search_path = public, pg_temp;
ALTER FUNCTION debtors_delete_keys() SET search_path = public, pg_temp;
