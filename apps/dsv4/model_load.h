// The model a command serves or measures, loaded with the options every such command
// takes (--mlock: core/memory_lock.h); throws Error with the loader's reason.
#pragma once

#include <memory>
#include <string>

#include "args.h"
#include "model/forward/model.h"

namespace dsv4::cli {

std::unique_ptr<Model> LoadCommandModel(const std::string& dir, const Args& args);

}  // namespace dsv4::cli
