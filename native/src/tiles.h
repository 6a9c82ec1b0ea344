// Per-tile candidate lists: which Gaussians can reach each kTileSize^2 tile.
#pragma once

#include <vector>

#include "texgs/image_function.h"
#include "texgs/render.h"

namespace texgs {

// gaussian_tiles (texgs/image_function.h, the tile bound both renderers use)
// from the box_radius half-extents (rx, ry) its caller has already computed
// for the same Gaussian (float mean, cos / sin and inverse scales).
inline GaussianTiles tiles_of_box(float mx, float my, double rx, double ry, const RenderSettings& s) {
    GaussianTiles t;
    t.x = axis_tiles(mx, rx, s.width, s.wrap_x);
    t.y = axis_tiles(my, ry, s.height, s.wrap_y);
    return t;
}

// Fills `lists` (ids and their transpose) from each Gaussian's tiles (reach:
// [N], tiles_of_box of the float cos/sin the renderer uses for q, so every
// texel whose float q can be <= kQCutoff lies in a listed tile). Lists are in
// increasing Gaussian index. Throws texgs::Error, before allocating them, if
// the lists would exceed 2^31 entries or base_bytes + entry_bytes per entry
// would exceed kMaxRenderBytes (render_base_bytes, tile_entry_bytes).
void build_tile_lists(const std::vector<GaussianTiles>& reach, const RenderSettings& s, TileLists& lists,
                      size_t base_bytes, size_t entry_bytes);

}  // namespace texgs
