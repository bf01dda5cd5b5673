-- Why: 0018 indexed every case by its debtor (`cases_by_debtor`) so that an agent's policies on
-- debtors, their keys and their contact wishes ask "is a case of this debtor mine?" through an
-- index. Debtor IDs are random, so each case written outside HOT (a new case, an assignment)
-- inserted at a random place of that index: measured on the assignment of 470,000 cases, the
-- statement took 13.2 s with it and 10.2 s without, the difference between the assignment pass
-- at 0.45x and 0.56x the placement's time. The live cases of a debtor are already indexed by
-- `cases_one_live_per_debtor` (creditor, debtor, currency, for open, paused and disputed
-- cases); only the ended ones (closed, recalled) need an index of their own, and an assignment
-- or a placement never writes one. The four policies ask the two questions, each answered by
-- its index.

DROP INDEX cases_by_debtor;
CREATE INDEX cases_by_debtor_ended ON cases (creditor_id, debtor_id) WHERE status NOT IN ('open', 'paused', 'disputed');

DROP POLICY debtors_read_by_agent ON debtors;
CREATE POLICY debtors_read_by_agent ON debtors AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtors.creditor_id AND c.debtor_id = debtors.id
                        AND c.status IN ('open', 'paused', 'disputed'))
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtors.creditor_id AND c.debtor_id = debtors.id
                        AND c.status NOT IN ('open', 'paused', 'disputed')));

DROP POLICY debtor_keys_read_by_agent ON debtor_keys;
CREATE POLICY debtor_keys_read_by_agent ON debtor_keys AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtor_keys.creditor_id AND c.debtor_id = debtor_keys.debtor_id
                        AND c.status IN ('open', 'paused', 'disputed'))
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = debtor_keys.creditor_id AND c.debtor_id = debtor_keys.debtor_id
                        AND c.status NOT IN ('open', 'paused', 'disputed')));

DROP POLICY contact_preferences_read_by_agent ON contact_preferences;
CREATE POLICY contact_preferences_read_by_agent ON contact_preferences AS RESTRICTIVE FOR SELECT TO relance_app
    USING ((SELECT app_role()) IS DISTINCT FROM 'agent'
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id
                        AND c.status IN ('open', 'paused', 'disputed'))
           OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id
                        AND c.status NOT IN ('open', 'paused', 'disputed')));

DROP POLICY contact_preferences_insert_by_agent ON contact_preferences;
CREATE POLICY contact_preferences_insert_by_agent ON contact_preferences AS RESTRICTIVE FOR INSERT TO relance_app
    WITH CHECK ((SELECT app_role()) IS DISTINCT FROM 'agent'
                OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id
                             AND c.status IN ('open', 'paused', 'disputed'))
                OR EXISTS (SELECT 1 FROM cases c WHERE c.creditor_id = contact_preferences.creditor_id AND c.debtor_id = contact_preferences.debtor_id
                             AND c.status NOT IN ('open', 'paused', 'disputed')));
