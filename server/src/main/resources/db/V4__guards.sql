-- Cairn server schema, version 4: guards (shared spaces, PROTOCOL.md 8.2: authorization as of the commit).
--
-- cairn_guard checks, inside a commit's transaction, that the map entry (p_owner, p_section, p_key)
-- is live and its JSON value an object whose "role" is one of p_roles. It locks the row FOR SHARE,
-- so a concurrent removal of the entry (an upsert or a section clear: both lock the row for update)
-- commits wholly before or wholly after this transaction: a guard that waits for it sees its result.
-- Refused: SQLSTATE CG001, DETAIL the batch's index in the commit, HINT 'role:<found>' or '' (none),
-- which rolls the whole transaction back (the committer retries the others without the batch).
CREATE FUNCTION cairn_guard(p_owner text, p_section text, p_key text, p_roles text[], p_batch int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v    text;
    role text;
BEGIN
    SELECT value INTO v FROM map_entries WHERE user_id = p_owner AND section = p_section AND key = p_key FOR SHARE;
    IF v IS NOT NULL AND jsonb_typeof(v::jsonb) = 'object' THEN
        role := v::jsonb ->> 'role';
    END IF;
    IF role IS NULL OR NOT (role = ANY (p_roles)) THEN
        RAISE EXCEPTION USING ERRCODE = 'CG001', MESSAGE = 'guard failed',
            DETAIL = p_batch::text, HINT = CASE WHEN role IS NULL THEN '' ELSE 'role:' || role END;
    END IF;
END
$$;
