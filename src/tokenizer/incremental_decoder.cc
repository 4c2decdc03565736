#include "tokenizer/incremental_decoder.h"

namespace dsv4::tokenizer {

std::string IncrementalDecoder::Push(int32_t id) {
  std::string out;
  sanitizer_.Push(tokenizer_->TokenBytes(id), &out);
  return out;
}

std::string IncrementalDecoder::Finish() {
  std::string out;
  sanitizer_.Finish(&out);
  return out;
}

}  // namespace dsv4::tokenizer
