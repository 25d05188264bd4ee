-- Compact representations per model version: binary quantization (an HNSW index on the version's quantizer, a SQL
-- function taking the sign bits of the embedding around the version's centre; candidates reranked exactly on the
-- stored vector), and an optional separate query model whose vectors live in the document model's space. The centre
-- (and, with two bits per dimension, the spread around it) is recorded when the index is first built and fixed from
-- then on.
ALTER TABLE embeddings_model_versions
    ADD COLUMN quantization      text    NOT NULL DEFAULT 'none' CHECK (quantization IN ('none', 'binary')),
    ADD COLUMN rerank_oversample integer NOT NULL DEFAULT 4 CHECK (rerank_oversample BETWEEN 1 AND 100),
    ADD COLUMN query_model_path  text    NULL,
    ADD COLUMN binary_bits       smallint NOT NULL DEFAULT 1 CHECK (binary_bits IN (1, 2)),
    ADD COLUMN quantization_center real[] NULL,
    ADD COLUMN quantization_spread real[] NULL;
