#include "model/safetensors_writer.h"

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

namespace dsv4 {

size_t TensorSpec::nbytes() const {
  size_t n = DTypeSize(dtype);
  for (int64_t d : shape) n *= size_t(d);
  return n;
}

void WriteSafetensors(const std::string& path, const std::vector<TensorSpec>& tensors) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  size_t offset = 0;
  for (const TensorSpec& t : tensors) {
    const size_t n = t.nbytes();
    header[t.name] = {{"dtype", DTypeName(t.dtype)}, {"shape", t.shape},
                      {"data_offsets", {offset, offset + n}}};
    offset += (n + 7) / 8 * 8;
  }
  std::string text = header.dump();
  text.append((8 - (text.size() + 8) % 8) % 8, ' ');  // data starts 8-byte aligned
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), std::fclose);
  Require(f != nullptr, "cannot write " + path);
  uint64_t len = text.size();
  uint8_t len_le[8];
  for (int i = 0; i < 8; ++i) len_le[i] = uint8_t(len >> (8 * i));
  bool ok = std::fwrite(len_le, 1, 8, f.get()) == 8 &&
            std::fwrite(text.data(), 1, text.size(), f.get()) == text.size();
  std::vector<uint8_t> buf;
  for (const TensorSpec& t : tensors) {
    const size_t n = t.nbytes(), padded = (n + 7) / 8 * 8;
    buf.assign(padded, 0);
    if (t.fill) t.fill(buf.data(), n);
    ok = ok && std::fwrite(buf.data(), 1, padded, f.get()) == padded;
  }
  Require(ok, "failed writing " + path);
}

}  // namespace dsv4
