-- Search (SPEC §4.3): full-text index over live capsules, kept in step by triggers.
--
-- capsule_fts is a contentless FTS5 table (the text lives only in capsules; the index stores
-- tokens, positions and the per-column sizes bm25() needs). Its rowid is a docid from
-- capsule_fts_docs, not capsules' implicit rowid, which VACUUM may renumber. A contentless table
-- deletes a document by replaying the exact values it indexed ('delete' command): the triggers
-- use OLD.content / OLD.metadata, which are those values.
--
-- Tokenizer: unicode61 (letters and digits of every script; diacritics folded) with the Porter
-- stemmer for English word forms ("queries" matches "query"). Columns: content (weight 1.0) and
-- the metadata JSON text (weight 0.5 in the queries of store/sqlite/search.c).
-- Deleted capsules are removed from the index; a capsule that becomes live again is re-added.

CREATE TABLE capsule_fts_docs (
    docid      INTEGER PRIMARY KEY,
    capsule_id TEXT NOT NULL UNIQUE
) STRICT;

CREATE VIRTUAL TABLE capsule_fts USING fts5(
    content, metadata,
    content = '',
    tokenize = 'porter unicode61 remove_diacritics 2'
);

-- Capsules that exist when this migration runs.
INSERT INTO capsule_fts_docs (capsule_id) SELECT id FROM capsules WHERE is_deleted = 0 ORDER BY id;
INSERT INTO capsule_fts (rowid, content, metadata)
    SELECT d.docid, c.content, c.metadata FROM capsule_fts_docs d JOIN capsules c ON c.id = d.capsule_id;

CREATE TRIGGER capsules_fts_insert AFTER INSERT ON capsules WHEN NEW.is_deleted = 0
BEGIN
    INSERT INTO capsule_fts_docs (capsule_id) VALUES (NEW.id);
    INSERT INTO capsule_fts (rowid, content, metadata)
        SELECT d.docid, NEW.content, NEW.metadata FROM capsule_fts_docs d
         WHERE d.capsule_id = NEW.id;
END;

-- One trigger for every transition, statements in a fixed order: drop the old document (if the
-- capsule was live), drop the docid (if it is deleted now), add the new document (if live).
CREATE TRIGGER capsules_fts_update AFTER UPDATE OF content, metadata, is_deleted ON capsules
WHEN OLD.content IS NOT NEW.content OR OLD.metadata IS NOT NEW.metadata
  OR OLD.is_deleted IS NOT NEW.is_deleted
BEGIN
    INSERT INTO capsule_fts (capsule_fts, rowid, content, metadata)
        SELECT 'delete', d.docid, OLD.content, OLD.metadata FROM capsule_fts_docs d
         WHERE d.capsule_id = OLD.id AND OLD.is_deleted = 0;
    DELETE FROM capsule_fts_docs WHERE capsule_id = OLD.id AND NEW.is_deleted <> 0;
    INSERT OR IGNORE INTO capsule_fts_docs (capsule_id) SELECT NEW.id WHERE NEW.is_deleted = 0;
    INSERT INTO capsule_fts (rowid, content, metadata)
        SELECT d.docid, NEW.content, NEW.metadata FROM capsule_fts_docs d
         WHERE d.capsule_id = NEW.id AND NEW.is_deleted = 0;
END;

-- Purge (retention, GDPR erasure): the row goes, and with it its document.
CREATE TRIGGER capsules_fts_purge AFTER DELETE ON capsules
BEGIN
    INSERT INTO capsule_fts (capsule_fts, rowid, content, metadata)
        SELECT 'delete', d.docid, OLD.content, OLD.metadata FROM capsule_fts_docs d
         WHERE d.capsule_id = OLD.id AND OLD.is_deleted = 0;
    DELETE FROM capsule_fts_docs WHERE capsule_id = OLD.id;
END;

-- Hybrid search walks DERIVED_FROM edges in both directions: child → parent uses the primary
-- key (child_id, ...), parent → child uses capsule_edges_parent (migration 020).
