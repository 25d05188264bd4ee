-- Every search (and every shadow search) with the version that answered it, for per-version A/B metrics, and the
-- feedback clients record on its hits.
CREATE TABLE embeddings_search_log (
    query_id   uuid PRIMARY KEY,
    collection text NOT NULL,
    version    text NOT NULL,
    at         timestamptz NOT NULL,
    latency_ms real NOT NULL,
    hits       text[] NOT NULL,            -- the hits' ids, closest first
    failed     boolean NOT NULL DEFAULT false,
    shadow_of  uuid,                       -- a shadow run of that search on a candidate version, never returned to the caller
    overlap    real,                       -- shadow: share of the primary's top k also in the shadow's top k
    rbo        real                        -- shadow: rank-biased overlap (p = 0.9) of the two lists
);
CREATE INDEX embeddings_search_log_collection_at ON embeddings_search_log (collection, at);

CREATE TABLE embeddings_search_feedback (
    query_id    uuid NOT NULL,
    document_id text NOT NULL,
    kind        text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (query_id, document_id, kind)
);
