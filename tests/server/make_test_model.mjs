// Writes a model directory for the server tests: the bundled tiny model (config.json and
// model.safetensors, symlinked) plus a byte-level tokenizer.json that fits its 2048-token
// vocabulary: tests/engine/engine_test_util.h's WriteTinyTokenizer (the bytes at ids 2..257,
// BOS 0, EOS 1, the V4 chat-format added tokens at 258..263) plus two-letter merges that
// fill ids 264..2043, so nearly every id the random model generates decodes to text, and
// the DSML marker and the FIM tokens at 2044..2047 (as in the V4 tokenizer).
// Usage: node make_test_model.mjs SOURCE_DIR OUT_DIR
import fs from 'node:fs';
import path from 'node:path';

const [source, out] = process.argv.slice(2);
fs.mkdirSync(out, {recursive: true});
for (const f of ['config.json', 'model.safetensors']) {
  const link = path.join(out, f);
  fs.rmSync(link, {force: true});
  fs.symlinkSync(path.resolve(source, 'models/tiny-random', f), link);
}

// GPT-2 byte-level alphabet: printable bytes map to themselves, the rest to U+0100....
function byteToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; ++b) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  }
  const map = {};
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i])));
  return map;
}
const b2u = byteToUnicode();
const vocab = {};
for (let b = 0; b < 256; ++b) vocab[b2u[b]] = b + 2;
const added = ['<｜begin▁of▁sentence｜>', '<｜end▁of▁sentence｜>', '<｜User｜>', '<｜Assistant｜>',
               '<think>', '</think>'];
const addedTokens = added.map((content, i) => ({id: i < 2 ? i : 256 + i, content, special: true}));
const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const merges = [];
const late = ['｜DSML｜', '<｜fim▁hole｜>', '<｜fim▁begin｜>', '<｜fim▁end｜>'];
late.forEach((content, i) => addedTokens.push({id: 2044 + i, content, special: true}));
for (let id = 264, i = 0; id < 2044; ++id, ++i) {
  const a = letters[Math.floor(i / letters.length)], b = letters[i % letters.length];
  merges.push(`${a} ${b}`);
  vocab[a + b] = id;
}
const tokenizer = {
  added_tokens: addedTokens,
  pre_tokenizer: {type: 'ByteLevel', add_prefix_space: false, use_regex: false},
  decoder: {type: 'ByteLevel'},
  model: {type: 'BPE', vocab, merges},
};
fs.writeFileSync(path.join(out, 'tokenizer.json'), JSON.stringify(tokenizer));
