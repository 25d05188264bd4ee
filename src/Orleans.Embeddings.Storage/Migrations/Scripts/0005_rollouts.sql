-- Durable state of each collection's version coordinator, and the checkpoints of bulk-load and
-- reconciliation shards, so a rollout resumes where it was after its grain moves or a silo dies.

CREATE TABLE embeddings_coordinators
(
    collection text        PRIMARY KEY REFERENCES embeddings_collections (name),
    -- The coordinator's whole state (versions, the run in progress); written with a revision check.
    state      jsonb       NOT NULL,
    revision   bigint      NOT NULL,
    -- True while a rollout or repair is in progress: the supervisor on every silo wakes these coordinators.
    active     boolean     NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX embeddings_coordinators_active ON embeddings_coordinators (collection) WHERE active;

-- One row per shard range of a run (a rollout's load or a repair): its pass, and the keyset cursor it
-- has committed: documents shard next_shard after id after_id.
CREATE TABLE embeddings_load_checkpoints
(
    collection  text        NOT NULL REFERENCES embeddings_collections (name),
    version     text        NOT NULL,
    run_id      text        NOT NULL,
    range_index integer     NOT NULL,
    pass        integer     NOT NULL,
    next_shard  integer     NOT NULL,
    after_id    text        NULL,
    done        boolean     NOT NULL DEFAULT false,
    -- Rows this range wrote in this pass (documents and tombstones), and pages it committed.
    written     bigint      NOT NULL DEFAULT 0,
    pages       bigint      NOT NULL DEFAULT 0,
    -- How many times the range was resumed from a checkpoint (after its grain moved or its silo died).
    resumes     integer     NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, version, run_id, range_index)
);
