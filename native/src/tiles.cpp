// Conservative tile binning. A Gaussian's candidate region (q <= 9) is an
// ellipse; its axis-aligned box has half-extents
//   r_x = 3 sqrt(cos^2 / w1^2 + sin^2 / w2^2),  r_y = 3 sqrt(sin^2 / w1^2 + cos^2 / w2^2).
// The renderer decides candidacy with float arithmetic, so the box is grown to
// cover every texel whose *rounded* q can still be <= 9 (see pad_radius), and
// w = 0 gives an infinite extent. Binning is in double precision.
#include "tiles.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

namespace texgs {
namespace {

struct TileRange {
    int lo, hi;  // inclusive tile indices along one axis
};

// The tiles along one axis touched by a box; at most two ranges (a box that
// wraps around the torus), sorted and disjoint.
struct AxisTiles {
    int count = 0;
    TileRange range[2];
};

double square_over(double a, double w) {  // a^2 / w^2 with 0 / 0 = 0 (axis term absent)
    return a == 0.0 ? 0.0 : (a * a) / (w * w);
}

double mul0(double a, double b) {  // a * b with 0 * inf = 0
    return (a == 0.0 || b == 0.0) ? 0.0 : a * b;
}

// Column/row index -> tile index, for a non-negative texel index.
int tile_of(int64_t texel) { return static_cast<int>(texel / kTileSize); }

AxisTiles whole_axis(int size) {
    AxisTiles t;
    t.count = 1;
    t.range[0] = {0, tile_of(size - 1)};
    return t;
}

// Tiles covering the texels whose centre (index + 0.5) lies within `radius`
// of `centre` along an axis of `size` texels.
AxisTiles axis_tiles(double centre, double radius, int size, bool wrap) {
    if (!std::isfinite(radius)) return whole_axis(size);
    if (wrap) {
        // A box as wide as the period covers every texel (each through its nearest copy).
        if (2.0 * radius + 2.0 >= size) return whole_axis(size);
        const double m = centre - size * std::floor(centre / size);  // [0, size]
        const int64_t lo = static_cast<int64_t>(std::floor(m - 0.5 - radius));
        const int64_t hi = static_cast<int64_t>(std::ceil(m - 0.5 + radius));
        if (hi - lo + 1 >= size) return whole_axis(size);
        const int64_t a = ((lo % size) + size) % size, b = ((hi % size) + size) % size;
        AxisTiles t;
        if (a <= b) {
            t.count = 1;
            t.range[0] = {tile_of(a), tile_of(b)};
        } else if (tile_of(b) + 1 >= tile_of(a)) {
            return whole_axis(size);  // the two pieces meet in one tile
        } else {
            t.count = 2;
            t.range[0] = {0, tile_of(b)};
            t.range[1] = {tile_of(a), tile_of(size - 1)};
        }
        return t;
    }
    const double lo = std::floor(centre - 0.5 - radius), hi = std::ceil(centre - 0.5 + radius);
    AxisTiles t;
    if (hi < 0.0 || lo > size - 1.0) return t;  // entirely outside: no tile
    t.count = 1;
    t.range[0] = {tile_of(static_cast<int64_t>(std::max(lo, 0.0))),
                  tile_of(static_cast<int64_t>(std::min(hi, size - 1.0)))};
    return t;
}

// Half-extents (r_x, r_y) of the box holding every texel whose float-computed
// q can be <= kQCutoff. Float rounding of u = c dx + s dy is at most a few
// ulps of |c dx| + |s dy|; w1 times that shifts a = w1 u, which moves q by
// about 2 |a| |da|. We bound that shift over the ideal box, grow the q
// threshold by it (plus a relative margin), and add an absolute margin for
// the rounding of dx = p - mean itself (a few ulps of |mean| + period).
void box_radius(double c, double s, double w1, double w2, double mx, double my, int width, int height,
                double& rx, double& ry) {
    const double inf = std::numeric_limits<double>::infinity();
    const double ideal_x = std::sqrt(square_over(c, w1) + square_over(s, w2));
    const double ideal_y = std::sqrt(square_over(s, w1) + square_over(c, w2));
    const double q_cut = kQCutoff;
    const double r0x = kSigmaCutoff * ideal_x, r0y = kSigmaCutoff * ideal_y;  // ideal radii at q = kQCutoff
    const double ulp_rel = std::ldexp(1.0, -20);                              // generous: several float ulps
    const double da = ulp_rel * std::fabs(w1) * (mul0(std::fabs(c), 2 * r0x) + mul0(std::fabs(s), 2 * r0y));
    const double db = ulp_rel * std::fabs(w2) * (mul0(std::fabs(s), 2 * r0x) + mul0(std::fabs(c), 2 * r0y));
    // 3.1: a bound just above sqrt(kQCutoff) = kSigmaCutoff on sqrt(q) near the cut-off.
    double q_box = q_cut * (1.0 + 1e-4) + 2.0 * 3.1 * (da + db) + 2.0 * (da * da + db * db);
    if (!std::isfinite(q_box)) q_box = inf;
    const double grow = std::sqrt(q_box / q_cut);
    rx = std::isfinite(ideal_x) ? r0x * grow : inf;
    ry = std::isfinite(ideal_y) ? r0y * grow : inf;
    // dx = px - mx (and its wrap) is rounded to a few ulps of |mx| + period.
    rx += ulp_rel * (std::fabs(mx) + width) + 1e-3;
    ry += ulp_rel * (std::fabs(my) + height) + 1e-3;
    if (std::isnan(rx)) rx = inf;
    if (std::isnan(ry)) ry = inf;
}

}  // namespace

void build_tile_lists(const GaussianParams& g, const RenderSettings& s, const std::vector<float>& cos_theta,
                      const std::vector<float>& sin_theta, TileLists& lists, size_t base_bytes,
                      size_t entry_bytes) {
    const int tx = (s.width + kTileSize - 1) / kTileSize;
    const int ty = (s.height + kTileSize - 1) / kTileSize;
    lists.tiles_x = tx;
    lists.tiles_y = ty;
    const int n = g.n;

    // Pass 1: each Gaussian's tile ranges, and how many entries each tile gets.
    std::vector<AxisTiles> along_x(n), along_y(n);
    std::vector<int64_t> count(size_t(tx) * ty + 1, 0);
    std::vector<int64_t> per_gaussian(size_t(n) + 1, 0);
    for (int i = 0; i < n; ++i) {
        double rx, ry;
        const double mx = g.means[2 * i], my = g.means[2 * i + 1];
        box_radius(cos_theta[i], sin_theta[i], g.inv_scales[2 * i], g.inv_scales[2 * i + 1], mx, my, s.width,
                   s.height, rx, ry);
        along_x[i] = axis_tiles(mx, rx, s.width, s.wrap_x);
        along_y[i] = axis_tiles(my, ry, s.height, s.wrap_y);
        int64_t touched = 0;
        for (int a = 0; a < along_y[i].count; ++a)
            for (int yy = along_y[i].range[a].lo; yy <= along_y[i].range[a].hi; ++yy)
                for (int b = 0; b < along_x[i].count; ++b) {
                    const TileRange r = along_x[i].range[b];
                    for (int xx = r.lo; xx <= r.hi; ++xx) ++count[size_t(yy) * tx + xx];
                    touched += r.hi - r.lo + 1;
                }
        per_gaussian[i + 1] = per_gaussian[i] + touched;
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
        // Tile rows ascending, then columns ascending: the transpose is in tile order.
        for (int a = 0; a < along_y[i].count; ++a)
            for (int yy = along_y[i].range[a].lo; yy <= along_y[i].range[a].hi; ++yy)
                for (int b = 0; b < along_x[i].count; ++b)
                    for (int xx = along_x[i].range[b].lo; xx <= along_x[i].range[b].hi; ++xx) {
                        const int32_t e = cursor[size_t(yy) * tx + xx]++;
                        lists.ids[e] = i;
                        lists.gaussian_entries[out++] = e;
                    }
    }
}

}  // namespace texgs
