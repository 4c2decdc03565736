// dsv4 eval --model DIR --tokens LIST --prefill N --logits-out FILE [--all-positions]
//           [--chunk C] [--no-act-quant]
// dsv4 eval --model DIR --tokens t0,...,tn --mtp-logits-out FILE [--logits-out FILE]
// Writes raw little-endian float32 rows of vocab_size logits.
#include <cstdio>
#include <fstream>
#include <iostream>

#include "args.h"
#include "commands.h"
#include "model/forward/model.h"

namespace dsv4::cli {
namespace {

void WriteRows(const std::string& path, const std::vector<float>& rows) {
  std::ofstream out(path, std::ios::binary);
  Require(bool(out), "cannot write " + path);
  out.write(reinterpret_cast<const char*>(rows.data()), std::streamsize(rows.size() * 4));
  Require(bool(out), "failed writing " + path);
}

// Prefills tokens[0..n) in chunks of `chunk` (0 = one chunk), collecting logits of the
// last position or of all, and the final HC states if `hidden` is given.
void Prefill(const Model& model, SequenceState* state, const std::vector<int32_t>& tokens,
             size_t n, int64_t chunk, bool all_positions, const ForwardOptions& options,
             std::vector<float>* logits, std::vector<float>* hidden) {
  if (chunk <= 0) chunk = int64_t(n);
  for (size_t begin = 0; begin < n; begin += size_t(chunk)) {
    size_t end = std::min(n, begin + size_t(chunk));
    std::vector<float> rows, states;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state;
    segs[0].tokens.assign(tokens.begin() + long(begin), tokens.begin() + long(end));
    segs[0].all_logits = all_positions;
    bool last = end == n;
    segs[0].logits = (all_positions || last) ? &rows : nullptr;
    segs[0].hidden = hidden ? &states : nullptr;
    model.Forward(segs, options);
    logits->insert(logits->end(), rows.begin(), rows.end());
    if (hidden) hidden->insert(hidden->end(), states.begin(), states.end());
  }
}

}  // namespace

int EvalCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"all-positions", "no-act-quant"},
            {"model", "tokens", "prefill", "logits-out", "mtp-logits-out", "chunk"});
  auto loaded = Model::Load(args.Required("model"));
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  const std::vector<int32_t> tokens = ParseTokenList(args.Required("tokens"));
  Require(!tokens.empty(), "--tokens is empty");
  ForwardOptions options;
  options.act_quant = !args.Has("no-act-quant");
  const bool all = args.Has("all-positions");
  const int64_t chunk = args.GetInt("chunk", 0);

  if (args.Has("mtp-logits-out")) {
    Require(model.has_mtp(), "this checkpoint has no MTP layer");
    Require(tokens.size() >= 2, "--mtp-logits-out needs at least two tokens");
    const size_t n = tokens.size() - 1;
    auto state = model.NewState(true);
    std::vector<float> logits, hidden;
    Prefill(model, state.get(), tokens, n, chunk, all, options, &logits, &hidden);
    if (args.Has("logits-out")) WriteRows(args.Get("logits-out"), logits);
    std::vector<MtpSegment> segs(1);
    std::vector<float> mtp_logits;
    segs[0].state = state.get();
    segs[0].hidden = std::move(hidden);
    segs[0].next_tokens.assign(tokens.begin() + 1, tokens.end());
    segs[0].logits = &mtp_logits;
    model.ForwardMtp(segs, options);
    WriteRows(args.Get("mtp-logits-out"), mtp_logits);
    return 0;
  }

  const int64_t prefill = args.GetInt("prefill", int64_t(tokens.size()));
  Require(prefill >= 1 && prefill <= int64_t(tokens.size()),
          "--prefill must be between 1 and the number of tokens (" +
              std::to_string(tokens.size()) + ")");
  auto state = model.NewState(false);
  std::vector<float> logits;
  Prefill(model, state.get(), tokens, size_t(prefill), chunk, all, options, &logits, nullptr);
  for (size_t i = size_t(prefill); i < tokens.size(); ++i) {
    std::vector<float> row;
    std::vector<ForwardSegment> segs(1);
    segs[0].state = state.get();
    segs[0].tokens = {tokens[i]};
    segs[0].logits = &row;
    model.Forward(segs, options);
    logits.insert(logits.end(), row.begin(), row.end());
  }
  WriteRows(args.Required("logits-out"), logits);
  return 0;
}

}  // namespace dsv4::cli
