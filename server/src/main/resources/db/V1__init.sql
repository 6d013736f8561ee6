-- Cairn server schema, version 1.
--
-- Every table is keyed by user_id first and no query spans users, so the schema shards unchanged
-- on Citus with user_id as the distribution column. Text that is compared for ordering (replica
-- ids, JSON value text for equal-stamp tie-breaks) is COLLATE "C": byte order, which matches
-- Java's String.compareTo for the ASCII replica ids the protocol allows.
--
-- seq: per-user sequence number of the change that made the row what it is (PROTOCOL.md 1.3).
-- user_heads.seq is the user's highest seq; updating it in the commit's transaction serializes a
-- user's commits, which is what makes seqs increase in commit order.

CREATE TABLE user_heads (
    user_id text   NOT NULL PRIMARY KEY,
    seq     bigint NOT NULL
);

-- Winning entry per map key; value NULL is a tombstone.
CREATE TABLE map_entries (
    user_id text                NOT NULL,
    section text                NOT NULL,
    key     text                NOT NULL,
    value   text COLLATE "C",
    hlc     bigint              NOT NULL,
    replica text COLLATE "C"    NOT NULL,
    seq     bigint              NOT NULL,
    PRIMARY KEY (user_id, section, key)
);
CREATE INDEX map_entries_user_seq ON map_entries (user_id, seq);

-- Visible log entries (entries at or below their stream's watermark are purged).
CREATE TABLE log_entries (
    user_id text                NOT NULL,
    section text                NOT NULL,
    stream  text                NOT NULL,
    hlc     bigint              NOT NULL,
    replica text COLLATE "C"    NOT NULL,
    value   text COLLATE "C"    NOT NULL,
    seq     bigint              NOT NULL,
    PRIMARY KEY (user_id, section, stream, hlc, replica)
);
CREATE INDEX log_entries_user_seq ON log_entries (user_id, seq);

-- "Cleared up to" watermark per log stream.
CREATE TABLE log_watermarks (
    user_id text                NOT NULL,
    section text                NOT NULL,
    stream  text                NOT NULL,
    hlc     bigint              NOT NULL,
    replica text COLLATE "C"    NOT NULL,
    seq     bigint              NOT NULL,
    PRIMARY KEY (user_id, section, stream)
);
CREATE INDEX log_watermarks_user_seq ON log_watermarks (user_id, seq);
