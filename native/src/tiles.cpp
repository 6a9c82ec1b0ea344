// Conservative tile binning: each Gaussian's tiles come from the one tile
// bound both renderers use (texgs/image_function.h: gaussian_tiles).
#include "tiles.h"

#include <cstdint>
#include <limits>
#include <string>

namespace texgs {

namespace {

// Calls fn(tile) for each tile of t: rows ascending, then columns ascending.
template <class Fn>
inline void for_each_tile(const GaussianTiles& t, int tiles_x, Fn&& fn) {
    for (int a = 0; a < t.y.count; ++a)
        for (int yy = t.y.range[a].lo; yy <= t.y.range[a].hi; ++yy)
            for (int b = 0; b < t.x.count; ++b)
                for (int xx = t.x.range[b].lo, row = yy * tiles_x; xx <= t.x.range[b].hi; ++xx) fn(row + xx);
}

}  // namespace

void build_tile_lists(const std::vector<GaussianTiles>& reach, const RenderSettings& s, TileLists& lists,
                      size_t base_bytes, size_t entry_bytes) {
    const int tx = (s.width + kTileSize - 1) / kTileSize;
    const int ty = (s.height + kTileSize - 1) / kTileSize;
    const size_t tiles = size_t(tx) * ty;
    lists.tiles_x = tx;
    lists.tiles_y = ty;
    const int n = static_cast<int>(reach.size());

    // Pass 1: how many entries each tile gets (counts[t + 1]) and each Gaussian.
    std::vector<int64_t> count(tiles + 1, 0);
    int64_t entries = 0;
    for (int i = 0; i < n; ++i) {
        for_each_tile(reach[i], tx, [&](int t) { ++count[t + 1]; });
        entries += reach[i].count();
    }
    if (entries > std::numeric_limits<int32_t>::max())
        throw Error("tile lists would need " + std::to_string(entries) +
                    " entries (over 2^31): too many Gaussians cover too much of the image");
    check_budget(base_bytes + size_t(entries) * entry_bytes, "rendering " + std::to_string(n) +
                                                                 " Gaussians whose tile lists hold " +
                                                                 std::to_string(entries) + " entries");

    // Pass 2: CSR fill in increasing Gaussian index, so each tile's list is sorted.
    lists.offsets.resize(tiles + 1);
    lists.offsets[0] = 0;
    for (size_t t = 0; t < tiles; ++t)
        lists.offsets[t + 1] = static_cast<int32_t>(lists.offsets[t] + count[t + 1]);
    lists.ids.resize(size_t(entries));
    lists.gaussian_offsets.resize(size_t(n) + 1);
    lists.gaussian_entries.resize(size_t(entries));
    // count[t] becomes tile t's cursor (its next free position in ids).
    for (size_t t = 0; t < tiles; ++t) count[t] = lists.offsets[t];
    int32_t out = 0;
    for (int i = 0; i < n; ++i) {
        lists.gaussian_offsets[i] = out;
        // Tile rows ascending, then columns ascending: the transpose is in tile order.
        for_each_tile(reach[i], tx, [&](int t) {
            const int32_t e = static_cast<int32_t>(count[t]++);
            lists.ids[e] = i;
            lists.gaussian_entries[out++] = e;
        });
    }
    lists.gaussian_offsets[n] = out;
}

}  // namespace texgs
