#include "model_load.h"

namespace dsv4::cli {

std::unique_ptr<Model> LoadCommandModel(const std::string& dir, const Args& args) {
  LoadOptions options;
  options.lock_in_memory = args.Has("mlock");
  auto loaded = Model::Load(dir, options);
  if (!loaded.ok()) throw Error(loaded.error());
  return std::move(loaded.value());
}

}  // namespace dsv4::cli
