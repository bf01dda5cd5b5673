-- Why: measured under the work queue's benchmark (32 agents asking for their next case), a
-- request's own statements were cheap once prepared, but auth_session, run by every
-- authenticated request, was planned again at every call (a SQL function in FROM is): 0.6 ms of
-- planning for 0.1 ms of work, the largest cost of a request. PL/pgSQL keeps the plan of its
-- statement for the session. Same query, same results, planned once per connection.

CREATE OR REPLACE FUNCTION auth_session(p_token_hash bytea, p_idle_seconds integer)
RETURNS TABLE (session_id uuid, user_id uuid, creditor_id uuid, role text, team text)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
    RETURN QUERY
    WITH found AS (
        SELECT s.id AS session_id, u.id AS user_id, u.creditor_id, u.role, t.name AS team, s.last_used_at
        FROM sessions s
        JOIN users u ON u.id = s.user_id
        LEFT JOIN creditors c ON c.id = u.creditor_id
        LEFT JOIN agent_profiles p ON p.user_id = u.id
        LEFT JOIN teams t ON t.id = p.team_id
        WHERE s.token_hash = p_token_hash
          AND s.revoked_at IS NULL
          AND s.expires_at > now()
          AND s.last_used_at > now() - make_interval(secs => p_idle_seconds)
          AND u.status = 'active'
          AND (c.id IS NULL OR c.status = 'active')
    ), touched AS (
        UPDATE sessions SET last_used_at = now()
        WHERE id = (SELECT f.session_id FROM found f) AND last_used_at < now() - interval '30 seconds'
    )
    SELECT f.session_id, f.user_id, f.creditor_id, f.role, f.team FROM found f;
END
$$;
