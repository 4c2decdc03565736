// dsv4 eval --model DIR --tokens LIST --prefill N --logits-out FILE [--all-positions]
//           [--chunk C] [--no-act-quant] [--fast]
// dsv4 eval --model DIR --tokens t0,...,tn --mtp-logits-out FILE [--logits-out FILE]
// Writes raw little-endian float32 rows of vocab_size logits (see model/forward/eval.h).
#include <fstream>

#include "args.h"
#include "kernels/precision.h"
#include "commands.h"
#include "model/forward/eval.h"

namespace dsv4::cli {
namespace {

void WriteRows(const std::string& path, const std::vector<float>& rows) {
  std::ofstream out(path, std::ios::binary);
  Require(bool(out), "cannot write " + path);
  out.write(reinterpret_cast<const char*>(rows.data()), std::streamsize(rows.size() * 4));
  Require(bool(out), "failed writing " + path);
}

}  // namespace

int EvalCommand(int argc, char** argv) {
  Args args(argc, argv, 2, {"all-positions", "no-act-quant", "fast"},
            {"model", "tokens", "prefill", "logits-out", "mtp-logits-out", "chunk"});
  auto loaded = Model::Load(args.Required("model"));
  if (!loaded.ok()) throw Error(loaded.error());
  const Model& model = *loaded.value();
  const std::vector<int32_t> tokens = ParseTokenList(args.Required("tokens"));
  Require(!tokens.empty(), "--tokens is empty");
  // eval is our accuracy tool: unless --fast, every dot product accumulates in double as
  // the reference does (exact up to one rounding), the closest estimate of any correct
  // implementation's result. --fast uses the serving kernels (SIMD, fp32 accumulation).
  kernels::SetPreciseMath(!args.Has("fast"));
  EvalOptions options;
  options.forward.act_quant = !args.Has("no-act-quant");
  options.all_positions = args.Has("all-positions");
  options.chunk = args.GetInt("chunk", 0);
  Require(options.chunk >= 0, "--chunk must be positive");

  if (args.Has("mtp-logits-out")) {
    std::vector<float> trunk;
    std::vector<float> mtp = EvalMtpLogits(model, tokens, options, &trunk);
    if (args.Has("logits-out")) WriteRows(args.Get("logits-out"), trunk);
    WriteRows(args.Get("mtp-logits-out"), mtp);
    return 0;
  }
  options.prefill = args.GetInt("prefill", int64_t(tokens.size()));
  Require(options.prefill >= 1 && options.prefill <= int64_t(tokens.size()),
          "--prefill must be between 1 and the number of tokens (" +
              std::to_string(tokens.size()) + ")");
  WriteRows(args.Required("logits-out"), EvalLogits(model, tokens, options));
  return 0;
}

}  // namespace dsv4::cli
