-- Search (SPEC §4.3), PostgreSQL dialect of sqlite/migrations/040_search.sql: a tsvector column
-- on capsules with a GIN index, kept in step by a trigger (no writer can forget it). Deleted
-- capsules have no document (NULL), so they never match.
--
-- Text search configuration forge_english: the default parser, the English Snowball (Porter)
-- stemmer WITHOUT a stop-word list — like SQLite's 'porter unicode61' (the core drops function
-- words from queries that have other words; a query of only function words still matches) —
-- and, when the unaccent extension can be installed, diacritics folded (remove_diacritics).
-- Weights: content 'A' (1.0), the metadata JSON text 'B' (0.5) in the ranking of
-- store/pg/search.c.
CREATE TEXT SEARCH DICTIONARY forge_english_stem (TEMPLATE = snowball, Language = english);
CREATE TEXT SEARCH CONFIGURATION forge_english (COPY = english);
ALTER TEXT SEARCH CONFIGURATION forge_english
    ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part
    WITH forge_english_stem;

DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'unaccent not available: diacritics are not folded';
        RETURN;
    END;
    ALTER TEXT SEARCH CONFIGURATION forge_english
        ALTER MAPPING FOR word, hword, hword_part WITH unaccent, forge_english_stem;
END;
$$;

ALTER TABLE capsules ADD COLUMN search_doc tsvector;

-- Documents above this size go through a guarded path: a tsvector is limited to 1 MB, which
-- very long texts of distinct words can exceed; those are indexed by their first 256 KiB.
CREATE FUNCTION capsules_search_doc(content TEXT, metadata TEXT) RETURNS tsvector
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF octet_length(content) <= 262144 THEN
        RETURN setweight(to_tsvector('forge_english', content), 'A')
               || setweight(to_tsvector('forge_english', metadata), 'B');
    END IF;
    BEGIN
        RETURN setweight(to_tsvector('forge_english', content), 'A')
               || setweight(to_tsvector('forge_english', metadata), 'B');
    EXCEPTION WHEN program_limit_exceeded THEN
        RETURN setweight(to_tsvector('forge_english', left(content, 262144)), 'A')
               || setweight(to_tsvector('forge_english', metadata), 'B');
    END;
END;
$$;

CREATE FUNCTION capsules_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.is_deleted <> 0 THEN
        NEW.search_doc := NULL;
    ELSIF TG_OP = 'INSERT' OR OLD.is_deleted <> 0 OR OLD.content IS DISTINCT FROM NEW.content
          OR OLD.metadata IS DISTINCT FROM NEW.metadata THEN
        NEW.search_doc := capsules_search_doc(NEW.content, NEW.metadata);
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER capsules_search_insert BEFORE INSERT ON capsules
    FOR EACH ROW EXECUTE FUNCTION capsules_search_sync();
CREATE TRIGGER capsules_search_update BEFORE UPDATE OF content, metadata, is_deleted ON capsules
    FOR EACH ROW EXECUTE FUNCTION capsules_search_sync();

-- Capsules that exist when this migration runs.
UPDATE capsules SET search_doc = capsules_search_doc(content, metadata) WHERE is_deleted = 0;

CREATE INDEX capsules_search ON capsules USING gin (search_doc);

-- Hybrid search walks DERIVED_FROM edges in both directions: child → parent uses the primary
-- key (child_id, ...), parent → child uses capsule_edges_parent (migration 020).
