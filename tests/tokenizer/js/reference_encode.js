// Reference ids from DeepSeek's tokenizer.json run by @lenml/tokenizers (transformers.js).
// usage: node reference_encode.js [--tokenizer TOKENIZER.json] OUT.json IN...
//   IN: *.json (an array of strings) or *.txt (records separated by a line "=====").
//   OUT.json: array of {hex, ids}, one per record in input order, where hex is the UTF-8
//   the JS tokenizer saw (a lone surrogate is replaced by U+FFFD first) and ids its
//   tokens without special tokens added.
//   --tokenizer: a replacement tokenizer.json (e.g. the derived V4 file).
"use strict";
const fs = require("fs");
const path = require("path");
const { fromPreTrained } = require(path.join(__dirname, "..", "node_modules",
                                             "@lenml", "tokenizer-deepseek_v3"));
let args = process.argv.slice(2);
let options;
if (args[0] === "--tokenizer") {
  options = { tokenizerJSON: JSON.parse(fs.readFileSync(args[1], "utf8")) };
  args = args.slice(2);
}
const [output, ...inputs] = args;
const tok = fromPreTrained(options);
const texts = [];
for (const file of inputs) {
  const data = fs.readFileSync(file, "utf8");
  if (file.endsWith(".json")) for (const t of JSON.parse(data)) texts.push(t);
  else for (const t of data.split("\n=====\n")) texts.push(t);
}
// A lone surrogate cannot travel in UTF-8: at any UTF-8 boundary (a request body, a
// file, Python -> Rust in HF tokenizers) it becomes U+FFFD. Tokenize what would arrive;
// otherwise the JS regex would see a code unit of category Cs that no server ever gets.
const out = texts.map((raw) => {
  const t = raw.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
  return { hex: Buffer.from(t, "utf8").toString("hex"), ids: tok.encode(t, { add_special_tokens: false }) };
});
fs.writeFileSync(output, JSON.stringify(out));
