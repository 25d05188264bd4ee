-- HNSW recall per version: after a version's index is built, EfSearchTuner measures recall@10 of index searches against
-- exact ones (a sample of the version's own vectors as queries) and records the smallest ef_search of its ladder that
-- reaches the collection's target recall. Searches of the version that set no ef_search use it. A collection may set
-- its own target (NULL: the tuner's default, 0.95).
ALTER TABLE embeddings_collections
    ADD COLUMN target_recall double precision NULL CHECK (target_recall > 0 AND target_recall <= 1);

ALTER TABLE embeddings_model_versions
    ADD COLUMN ef_search                integer     NULL CHECK (ef_search BETWEEN 1 AND 1000),
    -- recall@10 measured at ef_search, the target it was tuned for, whether it reached it, and recall@10 at the
    -- default ef_search (100) for comparison.
    ADD COLUMN ef_search_recall         double precision NULL,
    ADD COLUMN ef_search_target         double precision NULL,
    ADD COLUMN ef_search_reached        boolean     NULL,
    ADD COLUMN ef_search_default_recall double precision NULL,
    -- The sample of stored vectors used as queries, how long the measurement took, and when.
    ADD COLUMN ef_search_queries        integer     NULL,
    ADD COLUMN ef_search_seconds        double precision NULL,
    ADD COLUMN ef_search_tuned_at       timestamptz NULL;
