-- Capsule list totals in constant time (bench/load soak, 2026-12-06). A list answers with the
-- exact `total` of the live capsules its reader may see, less those of quarantined owners. Even
-- reading a covering index (migration 100) that count visits every live capsule and looks its
-- owner up: 3.6 ms at 1 000 capsules, 16.5 ms at 26 000, growing linearly, so a store that grows
-- by 150 capsules a second made 15 % lists take the whole machine within minutes.
-- capsule_live_counts holds the number of live capsules per (type, trust level, owner), kept by
-- the triggers below in the same transaction as the change; a list without a parent or date
-- filter sums it instead (one row per combination: types x trust levels x owners, far fewer than
-- capsules). Lists filtered by parent or creation date still count the capsules themselves.
CREATE TABLE capsule_live_counts (
    type        TEXT NOT NULL,
    trust_level INTEGER NOT NULL,
    owner_id    TEXT NOT NULL,
    n           INTEGER NOT NULL CHECK (n >= 0),
    PRIMARY KEY (type, trust_level, owner_id)
) STRICT, WITHOUT ROWID;

INSERT INTO capsule_live_counts (type, trust_level, owner_id, n)
    SELECT type, trust_level, owner_id, count(*) FROM capsules WHERE is_deleted = 0
    GROUP BY type, trust_level, owner_id;

CREATE TRIGGER capsule_live_counts_insert AFTER INSERT ON capsules WHEN NEW.is_deleted = 0
BEGIN
    INSERT INTO capsule_live_counts (type, trust_level, owner_id, n)
        VALUES (NEW.type, NEW.trust_level, NEW.owner_id, 1)
        ON CONFLICT (type, trust_level, owner_id) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER capsule_live_counts_delete AFTER DELETE ON capsules WHEN OLD.is_deleted = 0
BEGIN
    UPDATE capsule_live_counts SET n = n - 1
        WHERE type = OLD.type AND trust_level = OLD.trust_level AND owner_id = OLD.owner_id;
    DELETE FROM capsule_live_counts
        WHERE type = OLD.type AND trust_level = OLD.trust_level AND owner_id = OLD.owner_id
          AND n = 0;
END;

-- An update moves a capsule out of its old combination (if it was live) and into its new one (if
-- it is live), only when one of the four columns really changed.
CREATE TRIGGER capsule_live_counts_update
    AFTER UPDATE OF type, trust_level, owner_id, is_deleted ON capsules
    WHEN NOT (OLD.is_deleted = NEW.is_deleted AND OLD.type = NEW.type
              AND OLD.trust_level = NEW.trust_level AND OLD.owner_id = NEW.owner_id)
BEGIN
    UPDATE capsule_live_counts SET n = n - 1
        WHERE OLD.is_deleted = 0 AND type = OLD.type AND trust_level = OLD.trust_level
          AND owner_id = OLD.owner_id;
    DELETE FROM capsule_live_counts
        WHERE OLD.is_deleted = 0 AND type = OLD.type AND trust_level = OLD.trust_level
          AND owner_id = OLD.owner_id AND n = 0;
    INSERT INTO capsule_live_counts (type, trust_level, owner_id, n)
        SELECT NEW.type, NEW.trust_level, NEW.owner_id, 1 WHERE NEW.is_deleted = 0
        ON CONFLICT (type, trust_level, owner_id) DO UPDATE SET n = n + 1;
END;
