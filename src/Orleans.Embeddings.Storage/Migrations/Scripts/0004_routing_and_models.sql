-- The model each version embeds with, and the routing table of each collection: which versions live
-- changes are written to, how search traffic is split, and the epoch that every silo acknowledges.

-- A model folder every silo can load (model.onnx + tokenizer + embedding.json).
ALTER TABLE embeddings_model_versions ADD COLUMN model_path text NULL;

CREATE TABLE embeddings_routing
(
    collection    text        PRIMARY KEY REFERENCES embeddings_collections (name),
    -- Increases with every change; silos acknowledge the epoch they route by.
    epoch         bigint      NOT NULL CHECK (epoch > 0),
    -- Versions every live change is written to.
    write_targets text[]      NOT NULL,
    -- Search traffic: {"version": weight, ...}, weights summing to 100.
    traffic       jsonb       NOT NULL DEFAULT '{}'::jsonb,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE embeddings_routing_acks
(
    collection text        NOT NULL REFERENCES embeddings_collections (name),
    silo       text        NOT NULL,
    epoch      bigint      NOT NULL,
    acked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (collection, silo)
);

-- Every routing change is pushed to the silos listening on this channel (the payload is the collection);
-- they also poll, so a missed notification only delays a refresh.
CREATE FUNCTION embeddings_routing_notify() RETURNS trigger LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('embeddings_routing', NEW.collection);
    RETURN NEW;
END
$$;

CREATE TRIGGER embeddings_routing_changed AFTER INSERT OR UPDATE ON embeddings_routing
    FOR EACH ROW EXECUTE FUNCTION embeddings_routing_notify();
