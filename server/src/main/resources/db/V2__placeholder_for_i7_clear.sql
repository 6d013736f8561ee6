-- PLACEHOLDER so that V3 runs on this branch (migrations must be numbered without holes).
-- V2 belongs to the map-section clear watermark change (branch i7-clear): on merge, delete this
-- file and keep that branch's V2.
SELECT 1;
