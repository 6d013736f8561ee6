-- Cairn server schema, version 5: a space's bytes count against its owner's quota (PROTOCOL.md 8.5).
--
-- A space's data lives under its store key 'space:<id>' like a user's, with its own used_bytes.
-- space_bytes is what a user is charged for the spaces they own; charged_to (on a space's row)
-- is the user its bytes are charged to now. cairn_settle_usage, at the end of a store key's part
-- of a commit, keeps both in the same transaction as the data: for a space it finds the owner
-- (the member whose role is "owner", after this commit's changes), moves the whole charge when
-- the owner changed (a transfer; nobody after the space was deleted) or adds the net change, and
-- checks the owner's total (own data plus owned spaces) against the quota. A user's total is
-- used_bytes + space_bytes, which ServerStore.usage reports.
ALTER TABLE user_usage ADD COLUMN space_bytes bigint NOT NULL DEFAULT 0;
ALTER TABLE user_usage ADD COLUMN charged_to text;

CREATE OR REPLACE FUNCTION cairn_settle_usage(p_user text, p_quota bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    used    bigint;
    grown   bigint;
    charged text;
    owner   text;
    account text := p_user;
    total   bigint;
BEGIN
    SELECT used_bytes, pending_bytes, charged_to INTO used, grown, charged FROM user_usage WHERE user_id = p_user;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF grown <> 0 THEN
        UPDATE user_usage SET pending_bytes = 0 WHERE user_id = p_user;
    END IF;
    IF starts_with(p_user, 'space:') THEN
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
            RETURN used;    -- deleted: charged to nobody (and its data is being purged)
        END IF;
        account := owner;
    END IF;
    SELECT used_bytes + space_bytes INTO total FROM user_usage WHERE user_id = account;
    IF p_quota > 0 AND grown > 0 AND total > p_quota THEN
        RAISE EXCEPTION USING ERRCODE = 'CQ001', MESSAGE = 'storage quota exceeded',
            DETAIL = (total - grown) || ' ' || total || ' ' || p_quota, HINT = p_user;
    END IF;
    RETURN used;
END
$$;
