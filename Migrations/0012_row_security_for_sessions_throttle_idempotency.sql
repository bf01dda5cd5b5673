-- Why: three tables that hold personal data were outside row-level security, so any principal's
-- transaction (a creditor's API key through a future buggy handler) could read them:
-- * sessions: who is logged in, and when;
-- * auth_throttle: client IP addresses of failed logins;
-- * idempotency_keys: stored answers, whose bodies carry names, emails, IBANs.
-- Each is now enabled and forced, with policies for exactly who uses it.

-- Sessions: a user's own (login, logout, password change), staff (an administrator disabling a
-- member of staff ends their sessions) and a creditor's users, not its API keys, for their
-- creditor's users (a creditor admin disabling one). The login functions run as the owner: its own policy, as on
-- users in 0002.
ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY sessions_own ON sessions
    USING (user_id = (SELECT app_user_id())) WITH CHECK (user_id = (SELECT app_user_id()));
CREATE POLICY sessions_staff ON sessions USING (app_is_staff()) WITH CHECK (app_is_staff());
CREATE POLICY sessions_creditor_users ON sessions
    USING ((SELECT app_user_id()) IS NOT NULL
           AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id AND u.creditor_id = (SELECT app_creditor_id())));
CREATE POLICY sessions_owner ON sessions TO CURRENT_USER USING (true) WITH CHECK (true);

-- Login throttling counters: written and read only by the login path, which runs them as the
-- system principal before anyone is known.
ALTER TABLE auth_throttle ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth_throttle FORCE ROW LEVEL SECURITY;
CREATE POLICY auth_throttle_system ON auth_throttle
    USING (app_principal_kind() = 'system') WITH CHECK (app_principal_kind() = 'system');

-- Idempotency records: read and written only by the middleware's request transaction and the
-- sweeper, both as the system principal (ADR 0009), never by a handler's own statements.
ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_system ON idempotency_keys
    USING (app_principal_kind() = 'system') WITH CHECK (app_principal_kind() = 'system');
