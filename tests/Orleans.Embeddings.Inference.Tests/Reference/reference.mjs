// Hugging Face's own stack as the reference: Transformers.js tokenizes or embeds texts with a local model folder
// (no hub: remote models are disabled), so the .NET tokenizer and sessions can be compared with it.
//
//   node reference.mjs tokenize <model folder> <max tokens> <input.jsonl> <output.jsonl>
//   node reference.mjs embed <model folder> <max tokens> <mean|cls> <input.jsonl> <output.jsonl>
//
// Input: one JSON string (the text) per line. Output, one line per input line: {"ids": [...], "untruncated": n} (the
// ids cut to <max tokens>, and how many there are without the cut), or the normalised pooled vector (embed) as an array.
// The folder needs what Transformers.js reads: config.json, tokenizer.json, tokenizer_config.json and onnx/model.onnx.
//
// Truncation is Hugging Face's Python one (what sentence-transformers trained and embeds with): the text's tokens are
// cut to <max tokens> - 2 and [CLS] ... [SEP] kept around them. Transformers.js' own `truncation: true` cuts the ids
// after [SEP] was added, so a long text loses its [SEP]; it is therefore not used, and the model is run on the ids
// (the feature-extraction pipeline cannot be given ids): pooled over all tokens (one text, no padding) or the first.
import { createReadStream, createWriteStream } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import readline from 'node:readline';
import { env, AutoModel, AutoTokenizer, Tensor } from '@huggingface/transformers';

const [mode, folder, maxTokensText, ...rest] = process.argv.slice(2);
const maxTokens = Number.parseInt(maxTokensText, 10);
if (!['tokenize', 'embed'].includes(mode) || !folder || !(maxTokens > 2)) {
  console.error('usage: node reference.mjs tokenize|embed <model folder> <max tokens> [mean|cls] <input.jsonl> <output.jsonl>');
  process.exit(2);
}

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(folder));
const model = path.basename(path.resolve(folder));
const tokenizer = await AutoTokenizer.from_pretrained(model);

async function* texts(file) {
  const lines = readline.createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) {
    yield JSON.parse(line);
  }
}

async function write(output, line) {
  if (!output.write(line + '\n')) {
    await once(output, 'drain');
  }
}

// [CLS] + the text's first <max tokens> - 2 tokens + [SEP].
function tokenize(text) {
  const ids = tokenizer.encode(text, { add_special_tokens: true });
  const truncated = ids.length > maxTokens ? [...ids.slice(0, maxTokens - 1), ids[ids.length - 1]] : ids;
  return { ids: truncated, untruncated: ids.length };
}

const output = createWriteStream(mode === 'tokenize' ? rest[1] : rest[2]);
if (mode === 'tokenize') {
  for await (const text of texts(rest[0])) {
    await write(output, JSON.stringify(tokenize(text)));
  }
} else {
  const pooling = rest[0];
  if (!['mean', 'cls'].includes(pooling)) {
    console.error(`pooling must be mean or cls, not '${pooling}'`);
    process.exit(2);
  }
  const encoder = await AutoModel.from_pretrained(model, { dtype: 'fp32', device: 'cpu' });
  for await (const text of texts(rest[1])) {
    const { ids } = tokenize(text);
    const dims = [1, ids.length];
    const inputs = {
      input_ids: new Tensor('int64', BigInt64Array.from(ids, BigInt), dims),
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims),
      token_type_ids: new Tensor('int64', new BigInt64Array(ids.length), dims),
    };
    const { last_hidden_state } = await encoder(inputs);
    const pooled = pooling === 'mean' ? last_hidden_state.mean(1) : last_hidden_state.slice(null, 0);
    await write(output, JSON.stringify(Array.from(pooled.normalize(2, -1).data)));
  }
}
output.end();
await once(output, 'finish');
