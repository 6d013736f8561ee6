-- What an index (user_id, section, key COLLATE "C") on map_entries costs writes (BENCHMARKS.md, "The streamed export").
\timing on
-- Run in a scratch database: psql -h 127.0.0.1 -U postgres -d <scratch> -f bench/sql/collate-c-index-cost.sql
CREATE TABLE map_entries (user_id text NOT NULL, section text NOT NULL, key text NOT NULL, value text COLLATE "C", hlc bigint NOT NULL, replica text COLLATE "C" NOT NULL, seq bigint NOT NULL, PRIMARY KEY (user_id, section, key));
CREATE INDEX map_entries_user_seq ON map_entries (user_id, seq);
-- 200,000 rows of ten users: new keys, then an upsert of the same keys (as a commit does); then both again with the index.
\echo no-extra-index insert
INSERT INTO map_entries SELECT 'u' || (g % 10), 'cards', 'card-' || g || '/isExpanded', '{"i":' || g || '}', g, 'dev', g FROM generate_series(1, 200000) g;
\echo no-extra-index upsert
INSERT INTO map_entries SELECT 'u' || (g % 10), 'cards', 'card-' || g || '/isExpanded', '{"j":' || g || '}', g + 1, 'dev', g + 200000 FROM generate_series(1, 200000) g
  ON CONFLICT (user_id, section, key) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq;
TRUNCATE map_entries;
CREATE INDEX map_entries_key_c ON map_entries (user_id, section, key COLLATE "C");
\echo extra-index insert
INSERT INTO map_entries SELECT 'u' || (g % 10), 'cards', 'card-' || g || '/isExpanded', '{"i":' || g || '}', g, 'dev', g FROM generate_series(1, 200000) g;
\echo extra-index upsert
INSERT INTO map_entries SELECT 'u' || (g % 10), 'cards', 'card-' || g || '/isExpanded', '{"j":' || g || '}', g + 1, 'dev', g + 200000 FROM generate_series(1, 200000) g
  ON CONFLICT (user_id, section, key) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, seq = excluded.seq;
