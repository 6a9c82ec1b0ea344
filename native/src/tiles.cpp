// Conservative tile binning: each Gaussian's tiles come from the one tile
// bound both renderers use (texgs/image_function.h: gaussian_tiles).
#include "tiles.h"

#include <cstdint>
#include <limits>
#include <string>

#include "texgs/image_function.h"

namespace texgs {

void build_tile_lists(const GaussianParams& g, const RenderSettings& s, const std::vector<float>& cos_theta,
                      const std::vector<float>& sin_theta, TileLists& lists, size_t base_bytes,
                      size_t entry_bytes) {
    const int tx = (s.width + kTileSize - 1) / kTileSize;
    const int ty = (s.height + kTileSize - 1) / kTileSize;
    lists.tiles_x = tx;
    lists.tiles_y = ty;
    const int n = g.n;

    // Pass 1: each Gaussian's tile ranges, and how many entries each tile gets.
    std::vector<GaussianTiles> reach(n);
    std::vector<int64_t> count(size_t(tx) * ty + 1, 0);
    std::vector<int64_t> per_gaussian(size_t(n) + 1, 0);
    for (int i = 0; i < n; ++i) {
        reach[i] =
            gaussian_tiles(g.means[2 * i], g.means[2 * i + 1], g.inv_scales[2 * i], g.inv_scales[2 * i + 1],
                           cos_theta[i], sin_theta[i], s.width, s.height, s.wrap_x, s.wrap_y);
        const AxisTiles &along_x = reach[i].x, &along_y = reach[i].y;
        for (int a = 0; a < along_y.count; ++a)
            for (int yy = along_y.range[a].lo; yy <= along_y.range[a].hi; ++yy)
                for (int b = 0; b < along_x.count; ++b)
                    for (int xx = along_x.range[b].lo; xx <= along_x.range[b].hi; ++xx)
                        ++count[size_t(yy) * tx + xx];
        per_gaussian[i + 1] = per_gaussian[i] + reach[i].count();
    }
    const int64_t entries = per_gaussian[n];
    if (entries > std::numeric_limits<int32_t>::max())
        throw Error("tile lists would need " + std::to_string(entries) +
                    " entries (over 2^31): too many Gaussians cover too much of the image");
    check_budget(base_bytes + size_t(entries) * entry_bytes, "rendering " + std::to_string(n) +
                                                                 " Gaussians whose tile lists hold " +
                                                                 std::to_string(entries) + " entries");

    // Pass 2: CSR fill in increasing Gaussian index, so each tile's list is sorted.
    lists.offsets.assign(size_t(tx) * ty + 1, 0);
    for (size_t t = 0; t < size_t(tx) * ty; ++t)
        lists.offsets[t + 1] = static_cast<int32_t>(lists.offsets[t] + count[t]);
    lists.ids.resize(size_t(entries));
    lists.gaussian_offsets.resize(size_t(n) + 1);
    lists.gaussian_entries.resize(size_t(entries));
    std::vector<int32_t> cursor(lists.offsets.begin(), lists.offsets.end() - 1);
    for (int i = 0; i <= n; ++i) lists.gaussian_offsets[i] = static_cast<int32_t>(per_gaussian[i]);
    for (int i = 0; i < n; ++i) {
        int32_t out = lists.gaussian_offsets[i];
        const AxisTiles &along_x = reach[i].x, &along_y = reach[i].y;
        // Tile rows ascending, then columns ascending: the transpose is in tile order.
        for (int a = 0; a < along_y.count; ++a)
            for (int yy = along_y.range[a].lo; yy <= along_y.range[a].hi; ++yy)
                for (int b = 0; b < along_x.count; ++b)
                    for (int xx = along_x.range[b].lo; xx <= along_x.range[b].hi; ++xx) {
                        const int32_t e = cursor[size_t(yy) * tx + xx]++;
                        lists.ids[e] = i;
                        lists.gaussian_entries[out++] = e;
                    }
    }
}

}  // namespace texgs
