-- Cairn server schema, version 2: a "cleared up to" watermark per map section.
--
-- A whole map section is cleared with one change ({"op":"clear","section":...} with no stream,
-- PROTOCOL.md 1.2). Its stamp is a max register: every map_entries row of the section (values
-- and tombstones) stamped at or below it is deleted in the same statement, and a write arriving
-- later at or below it is refused by the map upsert. So a cleared section frees its rows at once,
-- and a device that was offline with older data cannot bring it back.
--
-- seq: as in V1, the per-user seq of the change that set the watermark (readSince delivers it).

CREATE TABLE map_watermarks (
    user_id text                NOT NULL,
    section text                NOT NULL,
    hlc     bigint              NOT NULL,
    replica text COLLATE "C"    NOT NULL,
    seq     bigint              NOT NULL,
    PRIMARY KEY (user_id, section)
);
CREATE INDEX map_watermarks_user_seq ON map_watermarks (user_id, seq);
