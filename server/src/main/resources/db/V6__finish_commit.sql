-- Cairn server schema, version 6: one last statement per key of a commit (BENCHMARKS.md, issue 13).
--
-- A key's part of a commit used to end with cairn_settle_usage (read and reset pending_bytes,
-- which every data statement also wrote) and a statement that found the highest seq written by
-- four index probes. Now the reserve starts two transaction-local settings and each data
-- statement notes what it did in them: cairn.written (the highest seq written, else the previous
-- head) and cairn.grown (the net bytes added to used_bytes). cairn_finish_commit reads them once.
-- pending_bytes and cairn_settle_usage stay for nodes of the previous version during a rolling
-- upgrade; this version leaves pending_bytes at 0.
--
-- A push's guard (PROTOCOL.md 8.2) holds back only writes: cairn_guard_write reads and locks the
-- guarded entry exactly as cairn_guard (V4), in the same place of the commit (right after the key's
-- reserve), but a failure is only noted, in cairn.refused ('<batch>|<hint>', the first per key; the
-- reserve starts it empty, and cairn.base, the head before the commit). cairn_finish_commit raises
-- it (SQLSTATE CG001, DETAIL the batch, HINT as cairn_guard's) only if the key's data statements
-- wrote something (cairn.written above cairn.base): a re-sent batch whose changes are all stored
-- or superseded is committed (acknowledged) whatever the membership is now. cairn_guard stays for
-- guards that refuse whatever their batch writes (membership changes).
--
CREATE FUNCTION cairn_guard_write(p_owner text, p_section text, p_key text, p_roles text[], p_batch int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    v    text;
    role text;
BEGIN
    SELECT value INTO v FROM map_entries WHERE user_id = p_owner AND section = p_section AND key = p_key FOR SHARE;
    IF v IS NOT NULL AND jsonb_typeof(v::jsonb) = 'object' THEN
        role := v::jsonb ->> 'role';
    END IF;
    IF (role IS NULL OR NOT (role = ANY (p_roles))) AND coalesce(current_setting('cairn.refused', true), '') = '' THEN
        PERFORM set_config('cairn.refused', p_batch::text || '|' || CASE WHEN role IS NULL THEN '' ELSE 'role:' || role END, true);
    END IF;
END
$$;

-- cairn_finish_commit: raises a failed guard of writes only the key noted if the key's statements
-- wrote something (above), then lowers the key's head to cairn.written (the unused tail of the reservation:
-- a change that alters nothing takes no seq), then settles usage exactly as cairn_settle_usage of
-- V5 does with cairn.grown for pending_bytes: for a space ('space:<id>') it finds the owner (the
-- member whose role is "owner", after this commit's changes), moves the whole charge when the owner
-- changed or adds the growth to the owner's space_bytes; it refuses (SQLSTATE CQ001, HINT the key,
-- DETAIL "<before> <after> <quota>") a growth that leaves the charged user's total above p_quota
-- (> 0). A user's key that did not grow, or has no quota, reads nothing.
CREATE FUNCTION cairn_finish_commit(p_user text, p_quota bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint := current_setting('cairn.written')::bigint;
    grown   bigint := current_setting('cairn.grown')::bigint;
    refused text    := coalesce(current_setting('cairn.refused', true), '');
    used    bigint;
    charged text;
    owner   text;
    account text := p_user;
    total   bigint;
BEGIN
    IF refused <> '' AND written > current_setting('cairn.base')::bigint THEN
        RAISE EXCEPTION USING ERRCODE = 'CG001', MESSAGE = 'guard failed',
            DETAIL = split_part(refused, '|', 1), HINT = substr(refused, strpos(refused, '|') + 1);
    END IF;
    UPDATE user_heads SET seq = written WHERE user_id = p_user AND seq <> written;
    IF starts_with(p_user, 'space:') THEN
        SELECT used_bytes, charged_to INTO used, charged FROM user_usage WHERE user_id = p_user;
        IF NOT FOUND THEN
            RETURN written;
        END IF;
        SELECT key INTO owner FROM map_entries
        WHERE user_id = p_user AND section = 'members' AND value IS NOT NULL
          AND jsonb_typeof(value::jsonb) = 'object' AND value::jsonb ->> 'role' = 'owner'
        ORDER BY key COLLATE "C" LIMIT 1;
        IF charged IS DISTINCT FROM owner THEN
            IF charged IS NOT NULL THEN
                UPDATE user_usage SET space_bytes = space_bytes - (used - grown) WHERE user_id = charged;
            END IF;
            IF owner IS NOT NULL THEN
                INSERT INTO user_usage AS u (user_id, used_bytes, space_bytes) VALUES (owner, 0, used)
                ON CONFLICT (user_id) DO UPDATE SET space_bytes = u.space_bytes + excluded.space_bytes;
            END IF;
            UPDATE user_usage SET charged_to = owner WHERE user_id = p_user;
        ELSIF owner IS NOT NULL AND grown <> 0 THEN
            UPDATE user_usage SET space_bytes = space_bytes + grown WHERE user_id = owner;
        END IF;
        IF owner IS NULL THEN
            RETURN written;    -- deleted: charged to nobody (and its data is being purged)
        END IF;
        account := owner;
    END IF;
    IF p_quota > 0 AND grown > 0 THEN
        SELECT used_bytes + space_bytes INTO total FROM user_usage WHERE user_id = account;
        IF total > p_quota THEN
            RAISE EXCEPTION USING ERRCODE = 'CQ001', MESSAGE = 'storage quota exceeded',
                DETAIL = (total - grown) || ' ' || total || ' ' || p_quota, HINT = p_user;
        END IF;
    END IF;
    RETURN written;
END
$$;
