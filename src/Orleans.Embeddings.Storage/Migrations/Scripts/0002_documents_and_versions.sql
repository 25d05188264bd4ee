-- Documents (the source of truth for bulk loads) and the registry of model versions per collection.
-- Each version's embeddings live in a table of their own, created by CollectionCatalog with a
-- generated name recorded here; migrations never create those tables.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE embeddings_collections
(
    name       text        PRIMARY KEY CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE embeddings_documents
(
    collection   text        NOT NULL REFERENCES embeddings_collections (name),
    id           text        NOT NULL,
    -- The bulk loader splits the key space into 256 shards; computing the shard here keeps every
    -- writer and reader in agreement without sharing a hash function in code.
    shard        smallint    NOT NULL GENERATED ALWAYS AS ((hashtextextended(id, 0) & 255)::smallint) STORED,
    seq          bigint      NOT NULL,
    deleted      boolean     NOT NULL DEFAULT false,
    content      text        NULL,
    metadata     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    content_hash bytea       NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, id),
    CHECK (deleted OR content IS NOT NULL)
);

-- Keyset pages by (shard, id) for the loader and for reconciliation.
CREATE INDEX embeddings_documents_shard ON embeddings_documents (collection, shard, id);

CREATE TABLE embeddings_model_versions
(
    collection   text        NOT NULL REFERENCES embeddings_collections (name),
    version      text        NOT NULL CHECK (version ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    dimensions   integer     NOT NULL CHECK (dimensions BETWEEN 1 AND 16000),
    element_type text        NOT NULL CHECK (element_type IN ('vector', 'halfvec')),
    distance     text        NOT NULL CHECK (distance IN ('cosine', 'inner_product', 'l2')),
    table_name   text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, version)
);
