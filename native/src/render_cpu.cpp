// The image function of docs/IMAGE_FUNCTION.md on the CPU, forward and backward.
//
// Work is split by tile (kTileSize^2 texels). For each tile, every candidate
// Gaussian's q is evaluated kLanes texels at a time (structure-of-arrays
// texel centres), over the texel blocks inside its tile-bound box only, and
// each block takes a branch-free insertion into its texels' sorted K-arrays
// (skipped when no lane beats its current K-th best, stopped at the highest
// slot the block uses). The maths is texgs/image_function.h's, shared with
// the CUDA renderer; dx, dy, u, v, q are computed in float32 in exactly the
// order of the spec (the build uses -ffp-contract=off), so the selections
// match the PyTorch reference.
//
// Backward is deterministic for any thread count: each tile sums its texels'
// contributions into its own slots (one per tile-list entry), always in the
// same lane-and-block order; each Gaussian then sums its slots in tile order.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "parallel.h"
#include "simd.h"
#include "texgs/image_function.h"
#include "texgs/render.h"
#include "tiles.h"

namespace texgs {
namespace {

constexpr int kTileTexels = kTileSize * kTileSize;

// Texel rectangle of tile `tile` (clipped to the image).
struct TileRect {
    int x0, y0, x1, y1;  // [x0, x1) x [y0, y1)
    int count() const { return (x1 - x0) * (y1 - y0); }
};

TileRect tile_rect(const TileLists& lists, const RenderSettings& s, int tile) {
    const int tx = tile % lists.tiles_x, ty = tile / lists.tiles_x;
    TileRect r;
    r.x0 = tx * kTileSize;
    r.y0 = ty * kTileSize;
    r.x1 = std::min(r.x0 + kTileSize, s.width);
    r.y1 = std::min(r.y0 + kTileSize, s.height);
    return r;
}

// One Gaussian's parameters as the inner loops use them.
struct Gauss {
    float mx, my, c, s, w1, w2;
};

Gauss load_gauss(const GaussianParams& g, const std::vector<float>& cos_t, const std::vector<float>& sin_t,
                 int i) {
    return {g.means[2 * i], g.means[2 * i + 1],  cos_t[i],
            sin_t[i],       g.inv_scales[2 * i], g.inv_scales[2 * i + 1]};
}

constexpr int kBlocks = kTileTexels / kLanes;   // lane blocks per tile
constexpr int kRowBlocks = kTileSize / kLanes;  // lane blocks per tile row
static_assert(kTileSize % kLanes == 0, "a lane block is part of one tile row");

// Tile-local texel t = row * kTileSize + column; texels outside the image
// (partial tiles) get NaN centres, so their q is NaN and never selected.
struct TileTexels {
    alignas(64) float px[kTileTexels];  // texel centre x
    alignas(64) float py[kTileTexels];  // texel centre y
};

void tile_texels(const TileRect& r, TileTexels& tt) {
    const vfloat nan = vfloat{} + std::numeric_limits<float>::quiet_NaN();
    vint lane;
    for (int l = 0; l < kLanes; ++l) lane[l] = l;
    // One tile row's x centres and which of its lanes lie inside the image.
    vfloat row_px[kRowBlocks];
    vint inside_x[kRowBlocks];
    for (int cb = 0; cb < kRowBlocks; ++cb) {
        const vint x = lane + (r.x0 + cb * kLanes);
        inside_x[cb] = x < r.x1;
        row_px[cb] = inside_x[cb] ? __builtin_convertvector(x, vfloat) + 0.5f : nan;
    }
    for (int row = 0; row < kTileSize; ++row) {  // kLanes texels of one row at a time
        const int y = r.y0 + row;
        const vfloat py = vfloat{} + (float(y) + 0.5f);
        for (int cb = 0; cb < kRowBlocks; ++cb) {
            const int b = row * kRowBlocks + cb;
            const vfloat px_b = y < r.y1 ? row_px[cb] : nan;
            const vfloat py_b = y < r.y1 ? (inside_x[cb] ? py : nan) : nan;
            std::memcpy(tt.px + b * kLanes, &px_b, sizeof(px_b));
            std::memcpy(tt.py + b * kLanes, &py_b, sizeof(py_b));
        }
    }
}

// Per-worker scratch for one forward tile; allocated once per call.
struct ForwardScratch {
    TileTexels texels;
    vfloat best_q[kMaxK][kBlocks];              // [K, texel] selected q, ascending; +inf = empty
    vint best_j[kMaxK][kBlocks];                // [K, texel] their local list index; -1 = empty
    vfloat weight[kMaxK][kBlocks];              // [K, texel] G of the selected; 0 = empty
    vint value_offset[kMaxK][kBlocks];          // [K, texel] float offset of its row in tile_values
    alignas(64) int32_t selected[kTileTexels];  // per texel, its slots in use
    std::vector<Lanes> tile_values;             // [list entry, chunk] the tile's candidates' values, padded
    // One tile row's unnormalised output and S per value, [texel, C] plus the
    // padding lanes of the last texel's registers.
    Lanes row_acc[(kTileSize * kMaxChannels + kMaxChannels) / kLanes + 1];
    Lanes row_sum[(kTileSize * kMaxChannels + kMaxChannels) / kLanes + 1];
    // With an L2 term: the squared errors at each position of a tile row
    // ([texel, C]), summed over the tile's rows.
    Lanes row_sq[(kTileSize * kMaxChannels) / kLanes + 1];
};

// An L2Term's per-channel arrays repeated along one tile row ([texel, C],
// position f holds channel f % C), so a row's values meet their factors
// lane for lane; padded to whole registers.
struct L2Rows {
    static constexpr int kFloats = ((kTileSize * kMaxChannels) / kLanes + 1) * kLanes;
    alignas(64) float lo[kFloats];
    alignas(64) float span[kFloats];
    alignas(64) float coef[kFloats];
    L2Rows(const L2Term& l2, int channels, bool with_coef) {
        for (int f = 0; f < kFloats; ++f) {
            lo[f] = l2.lo[f % channels];
            span[f] = l2.span[f % channels];
            coef[f] = with_coef ? l2.coef[f % channels] : 0.0f;
        }
    }
};

void precompute_rotations(const GaussianParams& g, std::vector<float>& cos_t, std::vector<float>& sin_t) {
    cos_t.resize(size_t(g.n));
    sin_t.resize(size_t(g.n));
    for (int i = 0; i < g.n; ++i) {
        cos_t[i] = std::cos(g.rotations[i]);
        sin_t[i] = std::sin(g.rotations[i]);
    }
}

// One Gaussian as the forward pass reads it, one record per Gaussian (a tile's
// entry reads one or two cache lines): its q parameters, and the texels whose
// centre lies within the tile bound's box (box_radius, rounded up to float).
// Every texel whose q can be <= kQCutoff lies inside, so forward skips the
// texel blocks of a tile outside the box (exactly).
struct ForwardGauss {
    float mx, my, c, s, w1, w2;
    // Image texel columns [col0, col1] and rows [row0, row1], clamped to
    // +-2^30 (far outside every tile); a wrapped axis: all of them.
    int32_t col0, col1, row0, row1;
};

// An integer-valued double as int32, clamped to +-2^30 (infinities too).
inline int32_t clamp_index(double v) {
    constexpr double kFar = 1073741824.0;
    return v < -kFar ? -int32_t(kFar) : v > kFar ? int32_t(kFar) : int32_t(v);
}

// The texels along an axis whose centre lies within `reach` of `mean`, as
// first and last image index (wrapped: all of them; empty: first > last).
inline void reach_span(float mean, float reach, bool wrap, int32_t& first, int32_t& last) {
    if (wrap) {
        first = clamp_index(-HUGE_VAL);
        last = clamp_index(HUGE_VAL);
        return;
    }
    first = clamp_index(std::ceil(double(mean) - double(reach) - 0.5));
    last = clamp_index(std::floor(double(mean) + double(reach) - 0.5));
}

// Per Gaussian, its forward record and its tiles (tiles.h: tiles_of_box),
// from one box_radius. cos / sin as precompute_rotations computes them.
void precompute_forward(const GaussianParams& g, const RenderSettings& s, std::vector<ForwardGauss>& gauss,
                        std::vector<GaussianTiles>& tiles) {
    gauss.resize(size_t(g.n));
    tiles.resize(size_t(g.n));
    for (int i = 0; i < g.n; ++i) {
        ForwardGauss& f = gauss[i];
        f.mx = g.means[2 * i];
        f.my = g.means[2 * i + 1];
        f.c = std::cos(g.rotations[i]);
        f.s = std::sin(g.rotations[i]);
        f.w1 = g.inv_scales[2 * i];
        f.w2 = g.inv_scales[2 * i + 1];
        double rx, ry;
        box_radius(f.c, f.s, f.w1, f.w2, f.mx, f.my, s.width, s.height, rx, ry);
        tiles[i] = tiles_of_box(f.mx, f.my, rx, ry, s);
        const float reach_x = float(rx * (1.0 + 1e-6) + 1e-3);  // the margin covers rounding to float
        const float reach_y = float(ry * (1.0 + 1e-6) + 1e-3);
        reach_span(f.mx, reach_x, s.wrap_x, f.col0, f.col1);
        reach_span(f.my, reach_y, s.wrap_y, f.row0, f.row1);
    }
}

// The tile-local indices [lo, hi] of an image span [first, last] in the tile
// starting at `origin` (empty: lo > hi).
inline void tile_span(int32_t first, int32_t last, int origin, int& lo, int& hi) {
    const int a = first - origin, b = last - origin;
    lo = a > 0 ? (a > kTileSize - 1 ? kTileSize : a) : 0;
    hi = b < kTileSize - 1 ? (b < lo ? -1 : b) : kTileSize - 1;
}

// rows [n, c] copied into out [n, padded_c] (allocated), each row padded with zeros.
void pad_rows(const float* rows, int n, int c, int padded_c, float* out) {
    for (int i = 0; i < n; ++i) {
        float* o = out + size_t(i) * padded_c;
        std::copy(rows + size_t(i) * c, rows + size_t(i + 1) * c, o);
        std::fill(o + c, o + padded_c, 0.0f);
    }
}

template <bool WrapX, bool WrapY>
void forward_tile(const GaussianParams& g, const RenderSettings& s, const TileLists& lists,
                  const ForwardGauss* gauss, int tile, const float* padded_values, ForwardScratch& sc,
                  float* out, ForwardState* state, const L2Term* l2, const L2Rows* l2_rows,
                  double* tile_squared_error) {
    const int K = s.k, C = g.channels;
    const TileRect r = tile_rect(lists, s, tile);
    tile_texels(r, sc.texels);
    const float inf = std::numeric_limits<float>::infinity();
    // Slots are emptied (q = +inf, index -1) as blocks start using them; the
    // last one from the start, for the "can it enter at all" test.
    for (int b = 0; b < kBlocks; ++b) sc.best_q[K - 1][b] = vfloat{} + inf;
    const Wrap wrap = {WrapX, WrapY, float(s.width), float(s.height)};
    const int begin = lists.offsets[tile], end = lists.offsets[tile + 1];
    const vfloat empty = vfloat{} + inf;
    const vfloat* px = reinterpret_cast<const vfloat*>(sc.texels.px);
    const vfloat* py = reinterpret_cast<const vfloat*>(sc.texels.py);
    // fill[b]: slots of block b that hold an entry in at least one lane; the
    // slots above are empty in every lane, so insertions stop there.
    int fill[kBlocks] = {};
    static_assert(kBlocks <= 64, "a block set is one 64-bit word");
    uint64_t* touched_blocks = state ? state->touched.data() + begin : nullptr;
    // The entries' records are read at random (ids increase but skip): each
    // is prefetched kEntryAhead entries before it is used.
    constexpr int kEntryAhead = 4;
    for (int j = 0; j < end - begin; ++j) {
        if (begin + j + kEntryAhead < end) {
            const ForwardGauss* ahead = gauss + lists.ids[begin + j + kEntryAhead];
            prefetch(ahead);
            prefetch(reinterpret_cast<const char*>(ahead + 1) - 1);
        }
        const ForwardGauss gs = gauss[lists.ids[begin + j]];  // a copy: the stores below may alias
        int row0, row1, col0, col1;
        tile_span(gs.row0, gs.row1, r.y0, row0, row1);
        tile_span(gs.col0, gs.col1, r.x0, col0, col1);
        // Insert into each texel's (q, index)-sorted K-array, kLanes texels at a
        // time, branch-free: slot k takes slot k-1's old entry if the new one
        // went before it, else the new one if it goes before slot k's entry.
        // Candidates arrive in increasing index and compare strictly, so an
        // equal q stays behind the earlier Gaussian (lower index wins).
        const vint jv = vint{} + j;
        if (touched_blocks) touched_blocks[j] = 0;
        if (col0 > col1) continue;
        const int cb0 = col0 / kLanes, cb1 = col1 / kLanes;
        uint64_t touched = 0;
        auto insert = [&](int b) {
            vfloat u, v;
            frame_offset(px[b], py[b], gs.mx, gs.my, gs.c, gs.s, wrap, u, v);
            vfloat x = quad_form(u, v, gs.w1, gs.w2);
            x = within_cutoff(x) ? x : empty;  // not a candidate: never inserted (also NaN)
            if (!any_lane(x < sc.best_q[K - 1][b])) return;
            touched |= uint64_t(1) << b;
            const int top = std::min(fill[b] + 1, K);
            if (fill[b] < K) {
                sc.best_q[fill[b]][b] = empty;
                sc.best_j[fill[b]][b] = vint{} - 1;
            }
            vint before_prev = vint{};
            vfloat prev_q = empty;
            vint prev_j = vint{};
            for (int k = 0; k < top; ++k) {
                const vfloat cur_q = sc.best_q[k][b];
                const vint cur_j = sc.best_j[k][b];
                const vint before = x < cur_q;
                sc.best_q[k][b] = before_prev ? prev_q : (before ? x : cur_q);
                sc.best_j[k][b] = before_prev ? prev_j : (before ? jv : cur_j);
                before_prev = before;
                prev_q = cur_q;
                prev_j = cur_j;
            }
            fill[b] = top;
        };
        // Blocks in row order; a span over whole tile rows is one run of blocks.
        if (cb0 == 0 && cb1 == kRowBlocks - 1) {
            for (int b = row0 * kRowBlocks, b1 = (row1 + 1) * kRowBlocks; b < b1; ++b) insert(b);
        } else {
            for (int row = row0; row <= row1; ++row)
                for (int b = row * kRowBlocks + cb0, b1 = row * kRowBlocks + cb1; b <= b1; ++b) insert(b);
        }
        if (touched_blocks) touched_blocks[j] = touched;
    }
    // Weights G = exp(-q/2) of the selected, all texels at once, and the
    // offsets of their value rows; empty slots get G = 0 and the zero row, so
    // the blend runs a group of texels over the same slots: adding
    // 0 * value = +-0 to a sum that is never -0 changes no bit. Only the
    // slots a block uses are read from here on.
    const int chunks = (C + kLanes - 1) / kLanes, padded_c = chunks * kLanes;
    const int len = end - begin;
    // With a state, each texel's K-th selection (slot K - 1; q = +inf while
    // the slot is empty, and then every candidate is selected).
    vfloat* last_q =
        state ? reinterpret_cast<vfloat*>(state->last_q.data() + size_t(tile) * kTileTexels) : nullptr;
    vint* last_j =
        state ? reinterpret_cast<vint*>(state->last_j.data() + size_t(tile) * kTileTexels) : nullptr;
    for (int b = 0; b < kBlocks; ++b) {
        if (last_q) {
            const bool full = fill[b] == K;
            last_q[b] = full ? sc.best_q[K - 1][b] : empty;
            last_j[b] = full ? sc.best_j[K - 1][b] : vint{} - 1;
        }
        vint selected = vint{};
        for (int k = 0; k < fill[b]; ++k) {
            const vfloat q = sc.best_q[k][b];
            const vint candidate = within_cutoff(q);
            const vfloat w = gaussian_weight(candidate ? q : vfloat{});
            sc.weight[k][b] = candidate ? w : vfloat{};
            const vint j = sc.best_j[k][b];
            const vint used = j >= 0;
            sc.value_offset[k][b] = (used ? j : vint{} + len) * padded_c;
            selected -= used;
        }
        std::memcpy(sc.selected + b * kLanes, &selected, sizeof(selected));
    }
    // Blend: out = sum G_k v_k / sum G_k, in selection order, kLanes channels per
    // register. The tile's candidates' values are first copied next to each
    // other (rows padded to whole registers, then the zero row) so the inner
    // loop reads L1-hot rows.
    const float* wk = reinterpret_cast<const float*>(sc.weight);
    const int32_t* vo = reinterpret_cast<const int32_t*>(sc.value_offset);
    sc.tile_values.resize(size_t(len + 1) * chunks);
    float* tv = reinterpret_cast<float*>(sc.tile_values.data());
    {
        Lanes* dst = sc.tile_values.data();
        const Lanes* src = reinterpret_cast<const Lanes*>(padded_values);
        for (int j = 0; j < len; ++j)
            for (int chunk = 0; chunk < chunks; ++chunk)
                dst[size_t(j) * chunks + chunk] = src[size_t(lists.ids[begin + j]) * chunks + chunk];
        for (int chunk = 0; chunk < chunks; ++chunk) dst[size_t(len) * chunks + chunk] = Lanes{};
    }
    float* sums = state ? state->sums.data() + size_t(tile) * kTileTexels : nullptr;
    if (sums && r.y1 - r.y0 < kTileSize) std::fill(sums, sums + kTileTexels, 0.0f);  // rows outside the image
    // A tile row's output is contiguous in out ([H, W, C]): each texel's
    // unnormalised sums and its S (broadcast) are stored as whole registers
    // into row buffers at texel * C, each overwriting the previous texel's
    // padding lanes, and the row is then divided a register at a time
    // (the same a / S per value, far fewer divisions and no masked stores).
    // Texels right of the image (partial tiles) have no selection: they are
    // blended harmlessly into the buffers' tail and never copied out.
    float* row_acc = reinterpret_cast<float*>(sc.row_acc);
    float* row_sum = reinterpret_cast<float*>(sc.row_sum);
    const int row_floats = (r.x1 - r.x0) * C;
    auto blend = [&](auto chunk_count) {
        constexpr int kChunks = decltype(chunk_count)::value;  // 0: C decides at run time
        constexpr int kMaxChunks = (kMaxChannels + kLanes - 1) / kLanes;
        // Texels blended together (independent chains, one loop overhead).
        constexpr int kGroup = std::min(kLanes, kChunks == 1 ? 8 : kChunks == 2 ? 4 : 1);
        const int n_chunks = kChunks ? kChunks : chunks;
        for (int y = r.y0; y < r.y1; ++y) {
            for (int x0 = 0; x0 < kTileSize; x0 += kGroup) {
                const int t0 = (y - r.y0) * kTileSize + x0;
                vfloat acc[kGroup][kChunks ? kChunks : kMaxChunks];
                float sum[kGroup];
                for (int e = 0; e < kGroup; ++e) {
                    sum[e] = 0.0f;
                    for (int chunk = 0; chunk < n_chunks; ++chunk) acc[e][chunk] = vfloat{};
                }
                // One pass over the texels' selections, in order, all chunks at once.
                int used = 0;
                for (int e = 0; e < kGroup; ++e) used = std::max(used, sc.selected[t0 + e]);
                for (int n = 0; n < used; ++n)
                    for (int e = 0; e < kGroup; ++e) {
                        const float w = wk[n * kTileTexels + t0 + e];
                        const float* row = tv + vo[n * kTileTexels + t0 + e];
                        sum[e] += w;
                        for (int chunk = 0; chunk < n_chunks; ++chunk) {
                            vfloat val;
                            std::memcpy(&val, row + chunk * kLanes, sizeof(val));
                            acc[e][chunk] += w * val;
                        }
                    }
                for (int e = 0; e < kGroup; ++e) {
                    float* o = row_acc + (x0 + e) * C;
                    float* os = row_sum + (x0 + e) * C;
                    if (sum[e] == 0.0f) {  // no selection (G > 0 when selected): background / 1
                        for (int chunk = 0; chunk < n_chunks; ++chunk) {
                            const vfloat one = vfloat{} + 1.0f;
                            std::memcpy(os + chunk * kLanes, &one, sizeof(one));
                        }
                        std::memcpy(o, g.background, sizeof(float) * C);
                    } else {
                        const vfloat sv = vfloat{} + sum[e];
                        for (int chunk = 0; chunk < n_chunks; ++chunk) {
                            std::memcpy(o + chunk * kLanes, &acc[e][chunk], sizeof(vfloat));
                            std::memcpy(os + chunk * kLanes, &sv, sizeof(sv));
                        }
                    }
                    if (sums) sums[t0 + e] = sum[e];
                }
            }
            float* dst = out + (size_t(y) * s.width + r.x0) * C;
            // Aligned rows (W C a multiple of kLanes; the bindings' output is
            // 2 MiB aligned) bypass the caches: the image is far larger than them.
            const bool aligned = reinterpret_cast<uintptr_t>(dst) % sizeof(vfloat) == 0;
            // With an L2 term, each value's stored error against the target is
            // squared and summed per row position as the value is written.
            const float* t = l2 ? l2->target + (size_t(y) * s.width + r.x0) * C : nullptr;
            float* sq = reinterpret_cast<float*>(sc.row_sq);
            int f = 0;
            for (; f + kLanes <= row_floats; f += kLanes) {
                vfloat a, d;
                std::memcpy(&a, row_acc + f, sizeof(a));
                std::memcpy(&d, row_sum + f, sizeof(d));
                a /= d;
                if (aligned)
                    stream_store(dst + f, a);
                else
                    std::memcpy(dst + f, &a, sizeof(a));
                if (t) {
                    vfloat tv, lo, span, acc;
                    std::memcpy(&tv, t + f, sizeof(tv));
                    std::memcpy(&lo, l2_rows->lo + f, sizeof(lo));
                    std::memcpy(&span, l2_rows->span + f, sizeof(span));
                    std::memcpy(&acc, sq + f, sizeof(acc));
                    const vfloat err = (lo + span * a) - tv;
                    acc += err * err;
                    std::memcpy(sq + f, &acc, sizeof(acc));
                }
            }
            for (; f < row_floats; ++f) {
                const float a = row_acc[f] / row_sum[f];
                dst[f] = a;
                if (t) {
                    const float err = (l2_rows->lo[f] + l2_rows->span[f] * a) - t[f];
                    sq[f] += err * err;
                }
            }
        }
    };
    if (l2) std::memset(sc.row_sq, 0, sizeof(sc.row_sq));
    switch (chunks) {  // the common register counts unrolled
        case 1:
            blend(std::integral_constant<int, 1>{});
            break;
        case 2:
            blend(std::integral_constant<int, 2>{});
            break;
        default:
            blend(std::integral_constant<int, 0>{});
    }
    stream_fence();  // the streamed rows are visible to whichever thread reads out next
    if (l2) {        // per channel, its positions in increasing order
        const float* sq = reinterpret_cast<const float*>(sc.row_sq);
        for (int c = 0; c < C; ++c) {
            double total = 0.0;
            for (int e = c; e < row_floats; e += C) total += sq[e];
            tile_squared_error[c] = total;
        }
    }
}

// Channels per group of backward's compile-time channel loops (3: RGB, 9 and
// 12 channels need no padding).
constexpr int kChannelGroup = 3;

// Consecutive tiles per backward work item.
constexpr int kTileRun = 8;

// Per-worker scratch for one backward tile.
struct BackwardScratch {
    TileTexels texels;
    std::vector<Lanes> grad;                      // [C, texel] dL/dout (0 outside the image)
    alignas(64) float sum[kTileTexels];           // S = sum of selected G (1 where none)
    alignas(64) float grad_dot_out[kTileTexels];  // sum_c dL/dout_c * out_c
    // Of the current entry: the blocks with a texel that selected it, and per
    // such block its frame offset, dL/dq and G / S.
    int active[kBlocks];
    vfloat u[kBlocks], v[kBlocks], dl_dq[kBlocks], share[kBlocks];
    vfloat value[kMaxChannels + kChannelGroup];  // its values, each broadcast
    // With an L2 term: the tile's dL/dout, [row, texel, C] as in grad_out.
    alignas(64) float l2_grad[kTileTexels * kMaxChannels];
    // The next tile's dL/dout and out cache lines, prefetched during this one.
    const float* lines[2 * kTileSize * ((kTileSize * kMaxChannels + 15) / 16 + 1)];
};

// The cache lines of the rows of tile r of an [H, W, C] image, appended to
// lines. Backward reads dL/dout and out a tile at a time, 16 short rows far
// apart, which the hardware prefetchers do not follow; prefetching the next
// tile's lines a few at a time while this one's entries are processed hides
// their latency without flooding the miss queue.
inline void row_lines(const float* image, const TileRect& r, int width, int C, const float** lines, int& n) {
    constexpr int kLine = 64 / sizeof(float);
    for (int y = r.y0; y < r.y1; ++y) {
        const float* row = image + (size_t(y) * width + r.x0) * C;
        const int floats = (r.x1 - r.x0) * C;
        for (int f = 0; f < floats + kLine - 1; f += kLine) lines[n++] = row + std::min(f, floats - 1);
    }
}

// Sums one tile's texel contributions into its slots: slot e (one per list
// entry) holds [d mean x, d mean y, d w1, d w2, d theta, d values[C]]. Each
// candidate is evaluated over the blocks of texels that selected it
// (vectorised), its G recomputed exactly as forward computed it; other lanes
// contribute exactly 0. Sums run in a fixed lane and block order.
template <bool WrapX, bool WrapY, int kGroups>
void backward_tile(const GaussianParams& g, const RenderSettings& s, const ForwardState& st,
                   const std::vector<float>& cos_t, const std::vector<float>& sin_t, int tile,
                   const float* out, const float* grad_out, const float* padded_values, BackwardScratch& sc,
                   float* slots, const L2Term* l2, const L2Rows* l2_rows) {
    const TileLists& lists = st.tiles;
    const int C = g.channels, stride = 5 + C;
    const TileRect r = tile_rect(lists, s, tile);
    const int begin = lists.offsets[tile], len = lists.offsets[tile + 1] - begin;
    float* tile_slots = slots + size_t(begin) * stride;  // every entry's slot is written below
    if (len == 0) return;
    tile_texels(r, sc.texels);
    // Channels padded to whole groups of kChannelGroup (dL/dout and values 0
    // there): the per-entry loops then run a compile-time channel count for
    // kGroups > 0, and the padding adds +0 to sums that are never -0.
    const int groups = kGroups ? kGroups : (C + kChannelGroup - 1) / kChannelGroup;
    const int padded_c = groups * kChannelGroup;
    // Rows c < C are rewritten for every tile; the padding rows stay zero.
    if (sc.grad.size() != size_t(padded_c) * kBlocks) sc.grad.assign(size_t(padded_c) * kBlocks, Lanes{});
    float* grad_f = reinterpret_cast<float*>(sc.grad.data());
    const float* sums = st.sums.data() + size_t(tile) * kTileTexels;
    for (int t = 0; t < kTileTexels; ++t)
        sc.sum[t] = sums[t] == 0.0f ? 1.0f : sums[t];  // no selection: weights are 0 anyway
    // dL/dout of a row of the tile, from texel r.x0 on (texel stride C): grad_out's,
    // or with an L2 term its gradient (plus grad_out's), computed into l2_grad.
    const int row_floats = (r.x1 - r.x0) * C;
    if (l2) {
        for (int y = r.y0; y < r.y1; ++y) {
            const size_t first = (size_t(y) * s.width + r.x0) * C;
            const float *o = out + first, *t = l2->target + first,
                        *extra = grad_out ? grad_out + first : nullptr;
            float* dst = sc.l2_grad + size_t(y - r.y0) * kTileSize * C;
            const bool scaled = l2->loss_grad != 1.0f;
            const vfloat loss_grad = vfloat{} + l2->loss_grad;
            int f = 0;
            for (; f + kLanes <= row_floats; f += kLanes) {
                vfloat ov, tv, lo, span, coef;
                std::memcpy(&ov, o + f, sizeof(ov));
                std::memcpy(&tv, t + f, sizeof(tv));
                std::memcpy(&lo, l2_rows->lo + f, sizeof(lo));
                std::memcpy(&span, l2_rows->span + f, sizeof(span));
                std::memcpy(&coef, l2_rows->coef + f, sizeof(coef));
                vfloat d = ((lo + span * ov) - tv) * coef;
                if (scaled) d *= loss_grad;
                if (extra) {
                    vfloat e;
                    std::memcpy(&e, extra + f, sizeof(e));
                    d += e;
                }
                std::memcpy(dst + f, &d, sizeof(d));
            }
            for (; f < row_floats; ++f) {
                float d = ((l2_rows->lo[f] + l2_rows->span[f] * o[f]) - t[f]) * l2_rows->coef[f];
                if (scaled) d *= l2->loss_grad;
                if (extra) d += extra[f];
                dst[f] = d;
            }
        }
    }
    auto grad_row = [&](int y) {
        return l2 ? sc.l2_grad + size_t(y - r.y0) * kTileSize * C
                  : grad_out + (size_t(y) * s.width + r.x0) * C;
    };
    // dL/dout by channel ([C, texel]) and grad_dot_out, a block at a time: a
    // full block's texels are kLanes consecutive [C] rows of grad_out and out,
    // read kLanes channels at a time as transposed registers. Texels without
    // a selection (background) and outside the image get 0.
    for (int b = 0; b < kBlocks; ++b) {
        const int y = r.y0 + b / kRowBlocks, x0 = r.x0 + (b % kRowBlocks) * kLanes;
        const vint selected = vfloat(reinterpret_cast<const vfloat*>(sums)[b]) != 0.0f;
        vfloat god = vfloat{};
        if (y < r.y1 && x0 + kLanes <= r.x1) {
            const size_t first = (size_t(y) * s.width + x0) * C;
            const float* gp = grad_row(y) + size_t(x0 - r.x0) * C;
            const float* op = out + first;
            int c = 0;
            for (; c + kLanes <= C; c += kLanes) {
                vfloat gcol[kLanes], ocol[kLanes];
                load_transposed(gp + c, C, gcol);
                load_transposed(op + c, C, ocol);
                for (int l = 0; l < kLanes; ++l) {
                    const vfloat go = selected ? gcol[l] : vfloat{};
                    std::memcpy(grad_f + size_t(c + l) * kTileTexels + b * kLanes, &go, sizeof(go));
                    god += go * ocol[l];
                }
            }
            if (c < C) {  // the channels left over, as transposed registers too
                vfloat gcol[kLanes], ocol[kLanes];
                if (C % kLanes == 1) {  // then c = C - 1
                    gcol[0] = load_last_column(gp, C);
                    ocol[0] = load_last_column(op, C);
                } else {
                    load_columns(gp + c, C, C - c, gcol);
                    load_columns(op + c, C, C - c, ocol);
                }
                for (int l = 0; c < C; ++c, ++l) {
                    const vfloat go = selected ? gcol[l] : vfloat{};
                    std::memcpy(grad_f + size_t(c) * kTileTexels + b * kLanes, &go, sizeof(go));
                    god += go * ocol[l];
                }
            }
        } else {  // a partial block at the image's edge, texel by texel
            for (int c = 0; c < C; ++c)
                std::memset(grad_f + size_t(c) * kTileTexels + b * kLanes, 0, sizeof(vfloat));
            for (int l = 0; l < kLanes && y < r.y1 && x0 + l < r.x1; ++l) {
                if (!selected[l]) continue;
                const size_t pixel = size_t(y) * s.width + x0 + l;
                float d = 0.0f;
                for (int c = 0; c < C; ++c) {
                    const float go = grad_row(y)[size_t(x0 + l - r.x0) * C + c];
                    grad_f[size_t(c) * kTileTexels + b * kLanes + l] = go;
                    d += go * out[pixel * C + c];
                }
                god[l] = d;
            }
        }
        god = selected ? god : vfloat{};
        std::memcpy(sc.grad_dot_out + b * kLanes, &god, sizeof(god));
    }
    int n_lines = 0, next_line = 0;
    if (tile + 1 < lists.tiles_x * lists.tiles_y) {
        const TileRect next = tile_rect(lists, s, tile + 1);
        row_lines(l2 ? l2->target : grad_out, next, s.width, C, sc.lines, n_lines);
        row_lines(out, next, s.width, C, sc.lines, n_lines);
    }
    const int lines_per_entry = (n_lines + len - 1) / len;
    const Wrap wrap = {WrapX, WrapY, float(s.width), float(s.height)};
    const vfloat* go = reinterpret_cast<const vfloat*>(sc.grad.data());  // [C, block]
    const vfloat* px = reinterpret_cast<const vfloat*>(sc.texels.px);
    const vfloat* py = reinterpret_cast<const vfloat*>(sc.texels.py);
    const vfloat* sum = reinterpret_cast<const vfloat*>(sc.sum);
    const vfloat* god = reinterpret_cast<const vfloat*>(sc.grad_dot_out);
    const uint64_t* touched = st.touched.data() + begin;
    const vfloat* last_q = reinterpret_cast<const vfloat*>(st.last_q.data() + size_t(tile) * kTileTexels);
    const vint* last_j = reinterpret_cast<const vint*>(st.last_j.data() + size_t(tile) * kTileTexels);
    // A later entry's parameters and values, read at random, are prefetched
    // kEntryAhead entries before they are used.
    constexpr int kEntryAhead = 2;
    auto prefetch_entry = [&](int j) {
        if (j >= len) return;
        const int i = lists.ids[begin + j];
        prefetch(g.means + 2 * i);
        prefetch(g.inv_scales + 2 * i);
        prefetch(cos_t.data() + i);
        prefetch(sin_t.data() + i);
        prefetch(padded_values + size_t(i) * padded_c);
        prefetch(padded_values + size_t(i + 1) * padded_c - 1);
    };
    for (int j = 0; j < kEntryAhead; ++j) prefetch_entry(j);
    for (int j = 0; j < len; ++j) {
        prefetch_entry(j + kEntryAhead);
        for (int l1 = std::min(n_lines, next_line + lines_per_entry); next_line < l1; ++next_line)
            prefetch(sc.lines[next_line]);
        float* slot = tile_slots + size_t(j) * stride;
        if (touched[j] == 0) {  // no texel of this tile can have selected it
            std::fill(slot, slot + stride, 0.0f);
            continue;
        }
        const int i = lists.ids[begin + j];
        const Gauss gs = load_gauss(g, cos_t, sin_t, i);
        // Its values broadcast once, so the per-block dot product reads them
        // as register operands.
        const float* val = padded_values + size_t(i) * padded_c;
        for (int c = 0; c < padded_c; ++c) sc.value[c] = vfloat{} + val[c];
        // Per block, the shape gradients and dL/dvalues_c = dL/dout_c G / S,
        // summed in block order; the channel loops run at compile time for
        // kGroups > 0.
        constexpr int kPadded = kGroups * kChannelGroup;
        constexpr int kMaxPadded = (kMaxChannels + kChannelGroup - 1) / kChannelGroup * kChannelGroup;
        const int n_c = kPadded ? kPadded : padded_c;
        // Two passes over the blocks. The first finds, in each block that
        // took an insertion of the entry, the texels that selected it (q as
        // forward computed it, within the cut-off, and (q, j) up to the
        // texel's K-th selection in (q, index) order), and for the blocks
        // with any computes G, dL/dq and G / S (independent blocks, so the
        // out-of-order core overlaps their long exp chains), lanes that did
        // not select the entry set to 0, so their shape and value terms are
        // exactly +-0 (which leaves a sum that starts at +0 unchanged). The
        // second sums the shape and value gradients in block order.
        const vint jv = vint{} + j;
        int n_active = 0;
        for (uint64_t blocks = touched[j]; blocks; blocks &= blocks - 1) {
            const int b = __builtin_ctzll(blocks);
            vfloat u, v;
            frame_offset(px[b], py[b], gs.mx, gs.my, gs.c, gs.s, wrap, u, v);
            const vfloat q = quad_form(u, v, gs.w1, gs.w2);  // as forward computed it: the same G
            const vint on = within_cutoff(q) & ((q < last_q[b]) | ((q == last_q[b]) & (jv <= last_j[b])));
            if (!any_lane(on)) continue;
            const int a = n_active++;
            sc.active[a] = b;
            const vfloat zero = vfloat{};
            const vfloat w = on ? gaussian_weight(on ? q : zero) : zero;
            vfloat dot = vfloat{};
            for (int c = 0; c < n_c; ++c) dot += go[c * kBlocks + b] * sc.value[c];
            const vfloat dl_dq = dloss_dq(w, dloss_dweight(dot, god[b], sum[b]));
            sc.u[a] = on ? u : zero;
            sc.v[a] = on ? v : zero;
            sc.dl_dq[a] = on ? dl_dq : zero;
            sc.share[a] = w / sum[b];
        }
        vfloat acc[5] = {};
        vfloat value_acc[kPadded ? kPadded : kMaxPadded] = {};
        for (int a = 0; a < n_active; ++a) {
            const ShapeGrads<vfloat> d = shape_grads(sc.u[a], sc.v[a], gs.c, gs.s, gs.w1, gs.w2, sc.dl_dq[a]);
            acc[0] += d.mean_x;
            acc[1] += d.mean_y;
            acc[2] += d.w1;
            acc[3] += d.w2;
            acc[4] += d.theta;
            const vfloat* gb = go + sc.active[a];
            const vfloat share = sc.share[a];
            for (int c = 0; c < n_c; ++c) value_acc[c] += gb[c * kBlocks] * share;
        }
        for (int m = 0; m < 5; ++m) slot[m] = sum_lanes(acc[m]);
        for (int c = 0; c < C; ++c) slot[5 + c] = sum_lanes(value_acc[c]);
    }
}

template <class Fn>
void dispatch_wrap(const RenderSettings& s, Fn&& fn) {
    if (s.wrap_x) {
        if (s.wrap_y)
            fn(std::true_type{}, std::true_type{});
        else
            fn(std::true_type{}, std::false_type{});
    } else {
        if (s.wrap_y)
            fn(std::false_type{}, std::true_type{});
        else
            fn(std::false_type{}, std::false_type{});
    }
}

}  // namespace

void render_forward_cpu(const GaussianParams& g, const RenderSettings& s, float* out, ForwardState* state,
                        const L2Term* l2, double* squared_error) {
    validate(g, s);
    if (!out) throw Error("out is a null pointer");
    if (l2 && (!l2->target || !l2->lo || !l2->span || !squared_error))
        throw Error("the L2 term's target, lo, span or squared_error is a null pointer");
    std::vector<ForwardGauss> gauss;
    std::vector<GaussianTiles> reach;
    precompute_forward(g, s, gauss, reach);
    TileLists local;
    TileLists& lists = state ? state->tiles : local;
    build_tile_lists(reach, s, lists, render_base_bytes(g, s, state != nullptr),
                     tile_entry_bytes(g.channels, state != nullptr));
    if (state) {
        state->settings = s;
        state->n = g.n;
        state->channels = g.channels;
        const size_t texels = size_t(lists.tiles_x) * lists.tiles_y * kTileTexels;
        state->sums.resize(texels);
        state->last_q.resize(texels);
        state->last_j.resize(texels);
        state->touched.resize(lists.ids.size());
    }
    const int threads = resolve_threads(s.threads);
    const int tiles = lists.tiles_x * lists.tiles_y;
    // values [N, C] with rows padded to whole kLanes registers (zeros), register aligned
    std::vector<Lanes> padded_values(size_t(g.n) * ((g.channels + kLanes - 1) / kLanes));
    pad_rows(g.values, g.n, g.channels, (g.channels + kLanes - 1) / kLanes * kLanes,
             reinterpret_cast<float*>(padded_values.data()));
    std::vector<ForwardScratch> scratch(size_t(std::max(1, std::min(threads, tiles))));
    std::unique_ptr<L2Rows> l2_rows;
    std::vector<double> tile_squared_error;  // [tile, C]
    if (l2) {
        l2_rows.reset(new L2Rows(*l2, g.channels, false));
        tile_squared_error.resize(size_t(tiles) * g.channels);
    }
    dispatch_wrap(s, [&](auto wx, auto wy) {
        parallel_for(tiles, threads, [&](int tile, int worker) {
            forward_tile<decltype(wx)::value, decltype(wy)::value>(
                g, s, lists, gauss.data(), tile, reinterpret_cast<const float*>(padded_values.data()),
                scratch[worker], out, state, l2, l2_rows.get(),
                l2 ? tile_squared_error.data() + size_t(tile) * g.channels : nullptr);
        });
    });
    if (l2) {
        for (int c = 0; c < g.channels; ++c) squared_error[c] = 0.0;
        for (int tile = 0; tile < tiles; ++tile)
            for (int c = 0; c < g.channels; ++c)
                squared_error[c] += tile_squared_error[size_t(tile) * g.channels + c];
    }
}

void render_backward_cpu(const GaussianParams& g, const RenderSettings& s, const ForwardState& state,
                         const float* out, const float* grad_out, const GaussianGrads& grads,
                         const L2Term* l2) {
    validate(g, s);
    const RenderSettings& f = state.settings;
    if (state.n != g.n || state.channels != g.channels || f.height != s.height || f.width != s.width ||
        f.k != s.k || f.wrap_x != s.wrap_x || f.wrap_y != s.wrap_y)
        throw Error(
            "backward: the forward state was made for different Gaussians or settings "
            "(N, C, size, K or wrap differ)");
    if (!out) throw Error("out is a null pointer");
    if (!grad_out && !l2) throw Error("grad_out is a null pointer");
    if (l2 && (!l2->target || !l2->lo || !l2->span || !l2->coef))
        throw Error("the L2 term's target, lo, span or coef is a null pointer");
    if (g.n > 0 && (!grads.means || !grads.inv_scales || !grads.rotations || !grads.values))
        throw Error("a gradient output (means, inv_scales, rotations or values) is a null pointer");
    const int C = g.channels, stride = 5 + C;
    const TileLists& lists = state.tiles;
    std::vector<float> cos_t, sin_t;
    precompute_rotations(g, cos_t, sin_t);
    LargeArray<float> slots;  // [entries, 5 + C]; each tile zero-fills its own
    slots.resize(lists.ids.size() * size_t(stride));
    const int threads = resolve_threads(s.threads);
    const int tiles = lists.tiles_x * lists.tiles_y;
    std::vector<BackwardScratch> scratch(size_t(std::max(1, std::min(threads, tiles))));
    std::vector<float> padded_values;  // values [N, C], rows padded with zeros to whole channel groups
    const int padded_groups = (C + kChannelGroup - 1) / kChannelGroup * kChannelGroup;
    padded_values.resize(size_t(g.n) * padded_groups);
    pad_rows(g.values, g.n, C, padded_groups, padded_values.data());
    std::unique_ptr<L2Rows> l2_rows;
    if (l2) l2_rows.reset(new L2Rows(*l2, C, true));
    dispatch_wrap(s, [&](auto wx, auto wy) {
        // Items of kTileRun consecutive tiles: each tile prefetches the next
        // one's rows, which the same worker then processes.
        auto run = [&](auto groups) {
            parallel_for((tiles + kTileRun - 1) / kTileRun, threads, [&](int item, int worker) {
                for (int tile = item * kTileRun, t1 = std::min(tiles, tile + kTileRun); tile < t1; ++tile)
                    backward_tile<decltype(wx)::value, decltype(wy)::value, decltype(groups)::value>(
                        g, s, state, cos_t, sin_t, tile, out, grad_out, padded_values.data(), scratch[worker],
                        slots.data(), l2, l2_rows.get());
            });
        };
        switch ((C + kChannelGroup - 1) / kChannelGroup) {  // C up to 12 at compile time
            case 1:
                return run(std::integral_constant<int, 1>{});
            case 2:
                return run(std::integral_constant<int, 2>{});
            case 3:
                return run(std::integral_constant<int, 3>{});
            case 4:
                return run(std::integral_constant<int, 4>{});
            default:
                return run(std::integral_constant<int, 0>{});
        }
    });
    // Per Gaussian, sum its slots in tile order; chunks of Gaussians per item.
    constexpr int kChunk = 256;
    parallel_for((g.n + kChunk - 1) / kChunk, threads, [&](int chunk, int) {
        const int i1 = std::min(g.n, (chunk + 1) * kChunk);
        float acc[5 + kMaxChannels];
        // The slots are scattered over the tiles: each is prefetched kAhead
        // slots before it is read.
        constexpr int kAhead = 8;
        const int32_t m_end = lists.gaussian_offsets[i1];
        auto prefetch_slot = [&](int32_t m) {
            if (m >= m_end) return;
            const float* slot = slots.data() + size_t(lists.gaussian_entries[m]) * stride;
            prefetch(slot);
            prefetch(slot + stride - 1);
        };
        for (int32_t m = lists.gaussian_offsets[chunk * kChunk], m1 = m + kAhead; m < m1; ++m)
            prefetch_slot(m);
        for (int i = chunk * kChunk; i < i1; ++i) {
            std::fill(acc, acc + stride, 0.0f);
            for (int32_t m = lists.gaussian_offsets[i]; m < lists.gaussian_offsets[i + 1]; ++m) {
                prefetch_slot(m + kAhead);
                const float* slot = slots.data() + size_t(lists.gaussian_entries[m]) * stride;
                for (int c = 0; c < stride; ++c) acc[c] += slot[c];
            }
            grads.means[2 * i] = acc[0];
            grads.means[2 * i + 1] = acc[1];
            grads.inv_scales[2 * i] = acc[2];
            grads.inv_scales[2 * i + 1] = acc[3];
            grads.rotations[i] = acc[4];
            std::copy(acc + 5, acc + stride, grads.values + size_t(i) * C);
        }
    });
}

}  // namespace texgs
