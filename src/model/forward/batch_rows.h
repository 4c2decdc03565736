// How the rows of one forward step map to sequences: each sequence contributes a run of
// consecutive rows (its chunk) at consecutive positions. Row-wise work (linear layers,
// norms, MoE) runs over all rows at once, so weights are read once per step; work that
// touches per-sequence state (caches, compressors, attention) runs per run of rows.
#pragma once

#include <cstdint>
#include <vector>

#include "model/forward/state.h"

namespace dsv4 {

struct LayerRows {
  int64_t row0 = 0;  // first row of this sequence in the batch
  int64_t rows = 0;  // its chunk length T
  int64_t pos0 = 0;  // position of its first row
  LayerState* state = nullptr;  // this layer's state of the sequence
};

// The position of every row of the batch into *pos: [total rows] (a caller's buffer,
// reused from step to step).
inline void RowPositions(const std::vector<LayerRows>& segs, std::vector<int64_t>* pos) {
  pos->clear();
  for (const LayerRows& s : segs) {
    for (int64_t t = 0; t < s.rows; ++t) pos->push_back(s.pos0 + t);
  }
}

}  // namespace dsv4
