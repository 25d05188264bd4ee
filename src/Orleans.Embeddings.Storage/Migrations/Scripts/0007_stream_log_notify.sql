-- Readers of the log wait for a notification instead of querying every queue at every pull: each statement that
-- appends rows notifies once per (provider, queue) it appended to, when its transaction commits. It fires for every
-- producer alike (the SDK, the stream API, embeddings_stream_publish inside a producer's own transaction).
-- The payload is '<queue>/<provider>'.
CREATE FUNCTION embeddings_stream_log_appended() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    PERFORM pg_notify('embeddings_stream_log', a.queue_id || '/' || a.provider)
       FROM (SELECT DISTINCT provider, queue_id FROM appended) a;
    RETURN NULL;
END
$$;

CREATE TRIGGER embeddings_stream_log_appended
    AFTER INSERT ON embeddings_stream_log
    REFERENCING NEW TABLE AS appended
    FOR EACH STATEMENT EXECUTE FUNCTION embeddings_stream_log_appended();
