-- The tokenizer revision a version's models tokenize with, fixed for the version's life: its table was embedded with it,
-- so its queries must be tokenized the same way (DESIGN invariant 4), even after a more exact tokenizer ships.
-- Versions registered before revisions were recorded were embedded with Microsoft.ML.Tokenizers 2.0's BertTokenizer
-- ('mltokenizers-bert-2.0'; a SentencePiece folder is unaffected by it); versions registered from now on name theirs
-- ('bert-hf', Hugging Face's exact BERT tokenization, or 'sentencepiece').
ALTER TABLE embeddings_model_versions ADD COLUMN tokenizer_revision text NOT NULL DEFAULT 'mltokenizers-bert-2.0';
ALTER TABLE embeddings_model_versions ALTER COLUMN tokenizer_revision SET DEFAULT 'bert-hf';
