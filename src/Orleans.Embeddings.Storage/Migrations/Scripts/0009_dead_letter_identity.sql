-- A dead letter was unique by (provider, queue, position). A Kafka offset is unique only within one life of a topic: a
-- topic recreated under the same name (or the provider pointed at another topic) starts again at offset 0, and the dead
-- letter of a new bad event at an old offset was silently dropped as a duplicate of the old one. The payload's hash now
-- tells a new event from a redelivery of the same one, which is still recorded once.
ALTER TABLE embeddings_stream_dead_letters DROP CONSTRAINT IF EXISTS embeddings_stream_dead_letters_provider_queue_id_position_key;
CREATE UNIQUE INDEX embeddings_stream_dead_letters_event ON embeddings_stream_dead_letters (provider, queue_id, position, md5(payload));
