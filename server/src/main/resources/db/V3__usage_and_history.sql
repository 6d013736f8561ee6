-- Cairn server schema, version 3: per-user storage use (quota) and map history (issue 7).
--
-- user_usage.used_bytes is what ServerStore.usage defines: UTF-8 bytes (octet_length in a UTF8
-- database) of key and value of every live map entry plus stream and value of every visible log
-- entry. Commits keep it in their own transaction. pending_bytes is the net change the
-- transaction in flight made to used_bytes; cairn_settle_usage (the last statement of a user's
-- part of a commit) reads it, resets it to 0 and refuses growth beyond the quota, so it is 0
-- whenever no commit of the user is in flight.

CREATE TABLE user_usage (
    user_id       text   NOT NULL PRIMARY KEY,
    used_bytes    bigint NOT NULL,
    pending_bytes bigint NOT NULL DEFAULT 0
);

INSERT INTO user_usage (user_id, used_bytes)
SELECT user_id, sum(bytes) FROM (
    SELECT user_id, octet_length(key) + octet_length(value) AS bytes FROM map_entries WHERE value IS NOT NULL
    UNION ALL
    SELECT user_id, octet_length(stream) + octet_length(value) FROM log_entries
) AS held
GROUP BY user_id;

-- Earlier entries of map keys: the entry a change replaced (value NULL: it was a tombstone), with
-- its stamp and the seq it had (unique per user, so the key of the row), replaced at replaced_at
-- (Unix millis, the server's clock). Pruned past CAIRN_HISTORY_MS.
CREATE TABLE map_history (
    user_id     text             NOT NULL,
    section     text             NOT NULL,
    key         text             NOT NULL,
    seq         bigint           NOT NULL,
    value       text COLLATE "C",
    hlc         bigint           NOT NULL,
    replica     text COLLATE "C" NOT NULL,
    replaced_at bigint           NOT NULL,
    PRIMARY KEY (user_id, section, key, seq)
);
CREATE INDEX map_history_replaced_at ON map_history (replaced_at);

-- Settles one user's usage at the end of their part of a commit: refuses (SQLSTATE CQ001, which
-- rolls the whole transaction back) a net growth that leaves the user above p_quota (> 0).
-- HINT carries the user id, DETAIL "<before> <after> <quota>".
CREATE FUNCTION cairn_settle_usage(p_user text, p_quota bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    used  bigint;
    grown bigint;
BEGIN
    SELECT used_bytes, pending_bytes INTO used, grown FROM user_usage WHERE user_id = p_user;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    IF grown <> 0 THEN
        UPDATE user_usage SET pending_bytes = 0 WHERE user_id = p_user;
    END IF;
    IF p_quota > 0 AND grown > 0 AND used > p_quota THEN
        RAISE EXCEPTION USING ERRCODE = 'CQ001', MESSAGE = 'storage quota exceeded',
            DETAIL = (used - grown) || ' ' || used || ' ' || p_quota, HINT = p_user;
    END IF;
    RETURN used;
END
$$;
