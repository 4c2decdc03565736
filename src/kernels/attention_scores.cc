#include "kernels/attention_scores.h"

#include "kernels/tile_order.h"

namespace dsv4::kernels {

std::unique_ptr<TileScores> NewActiveTileScores() { return TileOrderActive() ? NewTileScoresAmx() : nullptr; }

}  // namespace dsv4::kernels
