-- The event log of the PostgreSQL stream transport, its dead letters, and the SQL functions
-- producers call to publish (also inside their own transactions: the transactional outbox).
--
-- The log is partitioned into queues: an event's queue is a hash of "collection/id" modulo the
-- provider's queue count, so every change to one document lands in one queue, in position order.
-- Orleans balances the queues across silos; the receiver that owns a queue leases rows with a
-- visibility timeout and acknowledges them only after the consumer grain has finished.

CREATE TABLE embeddings_stream_providers
(
    provider    text        PRIMARY KEY CHECK (provider ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    queue_count integer     NOT NULL CHECK (queue_count BETWEEN 1 AND 4096),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE embeddings_stream_log
(
    provider    text        NOT NULL REFERENCES embeddings_stream_providers (provider),
    queue_id    integer     NOT NULL,
    position    bigint      GENERATED ALWAYS AS IDENTITY,
    collection  text        NOT NULL,
    document_id text        NOT NULL,
    payload     bytea       NOT NULL,
    enqueued_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- How many times a receiver has leased the row; past the provider's maximum it is dead-lettered.
    attempts    integer     NOT NULL DEFAULT 0,
    -- A leased row is invisible to readers until this time (the visibility timeout).
    visible_at  timestamptz NOT NULL DEFAULT '-infinity',
    -- The receiver instance holding the lease; an acknowledgement from any other instance is ignored.
    lease_owner uuid        NULL,
    -- Why the last delivery failed, when the consumer kept failing it (goes into the dead letter).
    last_error  text        NULL,
    acked_at    timestamptz NULL,
    PRIMARY KEY (provider, queue_id, position)
) WITH (fillfactor = 80);

-- Readers walk only what is not yet acknowledged, in position order.
CREATE INDEX embeddings_stream_log_pending ON embeddings_stream_log (provider, queue_id, position)
    WHERE acked_at IS NULL;

CREATE TABLE embeddings_stream_dead_letters
(
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider    text        NOT NULL,
    transport   text        NOT NULL CHECK (transport IN ('postgres', 'kafka')),
    -- The queue (PostgreSQL) or topic partition (Kafka) and the position (log position or offset).
    queue_id    integer     NOT NULL,
    position    bigint      NOT NULL,
    stream_key  text        NULL,
    payload     bytea       NOT NULL,
    attempts    integer     NOT NULL,
    reason      text        NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (provider, queue_id, position)
);

-- The queue of one document for a provider: the same hash every producer and reader uses.
CREATE FUNCTION embeddings_stream_queue(p_provider text, p_collection text, p_id text) RETURNS integer
    LANGUAGE plpgsql STABLE AS
$$
DECLARE
    n integer;
BEGIN
    SELECT queue_count INTO n FROM embeddings_stream_providers WHERE provider = p_provider;
    IF n IS NULL THEN
        RAISE EXCEPTION 'stream provider "%" is not registered in embeddings_stream_providers: start a silo that hosts it once', p_provider
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN ((hashtextextended(p_collection || '/' || p_id, 0) & 2147483647) % n)::integer;
END
$$;

-- Appends one event as raw bytes, keyed by collection and document id; returns its log position.
-- The payload is not validated here: a bad event is dead-lettered by the reader with the reason.
CREATE FUNCTION embeddings_stream_publish(p_provider text, p_collection text, p_id text, p_payload bytea) RETURNS bigint
    LANGUAGE sql VOLATILE AS
$$
    INSERT INTO embeddings_stream_log (provider, queue_id, collection, document_id, payload)
    VALUES (p_provider, embeddings_stream_queue(p_provider, p_collection, p_id), p_collection, p_id, p_payload)
    RETURNING position;
$$;

-- Appends one event given as JSON, e.g. inside a producer's own transaction (transactional outbox):
--   SELECT embeddings_stream_publish('documents', '{"collection":"docs","id":"a-1","op":"upsert","content":"..."}');
CREATE FUNCTION embeddings_stream_publish(p_provider text, p_event jsonb) RETURNS bigint
    LANGUAGE plpgsql VOLATILE AS
$$
BEGIN
    IF jsonb_typeof(p_event -> 'collection') IS DISTINCT FROM 'string' OR jsonb_typeof(p_event -> 'id') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'the event needs "collection" and "id" strings: %', left(p_event::text, 200)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN embeddings_stream_publish(p_provider, p_event ->> 'collection', p_event ->> 'id', convert_to(p_event::text, 'UTF8'));
END
$$;
