-- Compact representations per model version: binary quantization (an HNSW index on binary_quantize(embedding),
-- candidates reranked exactly on the stored vector), and an optional separate query model whose vectors live
-- in the document model's space.
ALTER TABLE embeddings_model_versions
    ADD COLUMN quantization      text    NOT NULL DEFAULT 'none' CHECK (quantization IN ('none', 'binary')),
    ADD COLUMN rerank_oversample integer NOT NULL DEFAULT 4 CHECK (rerank_oversample BETWEEN 1 AND 100),
    ADD COLUMN query_model_path  text    NULL,
    ADD COLUMN binary_bits       smallint NOT NULL DEFAULT 1 CHECK (binary_bits IN (1, 2)),
    ADD COLUMN quantization_center real[] NULL,
    ADD COLUMN quantization_spread real[] NULL;
