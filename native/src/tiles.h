// Per-tile candidate lists: which Gaussians can reach each kTileSize^2 tile.
#pragma once

#include <vector>

#include "texgs/render.h"

namespace texgs {

// Fills `lists` (ids and their transpose) for the Gaussians of g under s.
// cos_theta, sin_theta: [N] the float cos/sin of each rotation, exactly the
// values the renderer uses for q. Every texel whose float q can be <= kQCutoff
// lies in a listed tile (conservative padded 3-sigma boxes); lists are in
// increasing Gaussian index. Throws texgs::Error, before allocating them, if
// the lists would exceed 2^31 entries or base_bytes + entry_bytes per entry
// would exceed kMaxRenderBytes (render_base_bytes, tile_entry_bytes).
void build_tile_lists(const GaussianParams& g, const RenderSettings& s, const std::vector<float>& cos_theta,
                      const std::vector<float>& sin_theta, TileLists& lists, size_t base_bytes,
                      size_t entry_bytes);

}  // namespace texgs
