// The image function of docs/IMAGE_FUNCTION.md on the CPU, forward and backward.
//
// Work is split by tile (kTileSize^2 texels). For each tile, every candidate
// Gaussian's q is evaluated for all texels of the tile in one tight,
// vectorisable loop over structure-of-arrays texel centres; only texels that
// beat their current K-th best then take the scalar insertion into a sorted
// K-array. dx, dy, u, v, q are computed in float32 in exactly the order of the
// spec (the build uses -ffp-contract=off), so the selections match the
// PyTorch reference.
//
// Backward is deterministic for any thread count: each tile sums its texels'
// contributions, in raster order, into its own slots (one per tile-list
// entry); each Gaussian then sums its slots in tile order.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "parallel.h"
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

Gauss load_gauss(const GaussianParams& g, const std::vector<float>& cos_t,
                 const std::vector<float>& sin_t, int i) {
    return {g.means[2 * i], g.means[2 * i + 1], cos_t[i], sin_t[i], g.inv_scales[2 * i],
            g.inv_scales[2 * i + 1]};
}

// Offset d = p - mean, wrapped to the nearest periodic copy on wrapped axes.
template <bool WrapX, bool WrapY>
inline void offset(float px, float py, const Gauss& gs, float period_x, float period_y, float& dx,
                   float& dy) {
    dx = px - gs.mx;
    dy = py - gs.my;
    if (WrapX) dx = dx - period_x * std::floor(dx / period_x + 0.5f);
    if (WrapY) dy = dy - period_y * std::floor(dy / period_y + 0.5f);
}

// Per-worker scratch for one tile; allocated once per call, never per texel.
struct TileScratch {
    alignas(64) float px[kTileTexels];   // texel centre x
    alignas(64) float py[kTileTexels];   // texel centre y
    alignas(64) float q[kTileTexels];    // q of the current candidate
    alignas(64) float thr[kTileTexels];  // a new candidate enters iff q < thr
    int count[kTileTexels];              // selected so far (<= K)
    float best_q[kTileTexels * kMaxK];   // [texel, K] selected q, ascending
    int best_j[kTileTexels * kMaxK];     // [texel, K] their local list index
};

void precompute_rotations(const GaussianParams& g, std::vector<float>& cos_t,
                          std::vector<float>& sin_t) {
    cos_t.resize(size_t(g.n));
    sin_t.resize(size_t(g.n));
    for (int i = 0; i < g.n; ++i) {
        cos_t[i] = std::cos(g.rotations[i]);
        sin_t[i] = std::sin(g.rotations[i]);
    }
}

template <bool WrapX, bool WrapY>
void forward_tile(const GaussianParams& g, const RenderSettings& s, const TileLists& lists,
                  const std::vector<float>& cos_t, const std::vector<float>& sin_t, int tile,
                  TileScratch& sc, float* out, ForwardState* state) {
    const int K = s.k, C = g.channels;
    const TileRect r = tile_rect(lists, s, tile);
    const int nt = r.count(), tw = r.x1 - r.x0;
    // Candidates need q <= 9, i.e. q < the next float above 9.
    const float open = std::nextafter(kQCutoff, std::numeric_limits<float>::infinity());
    for (int t = 0; t < nt; ++t) {
        sc.px[t] = float(r.x0 + t % tw) + 0.5f;
        sc.py[t] = float(r.y0 + t / tw) + 0.5f;
        sc.thr[t] = open;
        sc.count[t] = 0;
    }
    const float lx = float(s.width), ly = float(s.height);
    const int begin = lists.offsets[tile], end = lists.offsets[tile + 1];
    float* __restrict q = sc.q;
    const float* __restrict px = sc.px;
    const float* __restrict py = sc.py;
    for (int j = 0; j < end - begin; ++j) {
        const Gauss gs = load_gauss(g, cos_t, sin_t, lists.ids[begin + j]);
        // Hot loop: q for every texel of the tile (vectorised).
        for (int t = 0; t < nt; ++t) {
            float dx, dy;
            offset<WrapX, WrapY>(px[t], py[t], gs, lx, ly, dx, dy);
            const float u = gs.c * dx + gs.s * dy;
            const float v = -gs.s * dx + gs.c * dy;
            const float a = gs.w1 * u, b = gs.w2 * v;
            q[t] = a * a + b * b;
        }
        // Insert into the (q, index)-sorted K-array. Candidates arrive in
        // increasing index, so an equal q stays behind the earlier one.
        for (int t = 0; t < nt; ++t) {
            const float qt = q[t];
            if (!(qt < sc.thr[t])) continue;
            float* bq = sc.best_q + t * K;
            int* bj = sc.best_j + t * K;
            const int n = sc.count[t];
            int pos = n < K ? n : K - 1;
            while (pos > 0 && bq[pos - 1] > qt) {
                bq[pos] = bq[pos - 1];
                bj[pos] = bj[pos - 1];
                --pos;
            }
            bq[pos] = qt;
            bj[pos] = j;
            if (n < K) sc.count[t] = n + 1;
            if (sc.count[t] == K) sc.thr[t] = bq[K - 1];
        }
    }
    // Blend: out = sum G_k v_k / sum G_k, in selection order.
    float acc[kMaxChannels];
    float weight[kMaxK];
    for (int t = 0; t < nt; ++t) {
        const size_t pixel = size_t(r.y0 + t / tw) * s.width + (r.x0 + t % tw);
        float* o = out + pixel * C;
        const int n = sc.count[t];
        const float* bq = sc.best_q + t * K;
        const int* bj = sc.best_j + t * K;
        if (n == 0) {
            std::memcpy(o, g.background, sizeof(float) * C);
        } else {
            float sum = 0.0f;
            for (int c = 0; c < C; ++c) acc[c] = 0.0f;
            for (int k = 0; k < n; ++k) {
                const float w = std::exp(-0.5f * bq[k]);
                weight[k] = w;
                sum += w;
                const float* val = g.values + size_t(lists.ids[begin + bj[k]]) * C;
                for (int c = 0; c < C; ++c) acc[c] += w * val[c];
            }
            for (int c = 0; c < C; ++c) o[c] = acc[c] / sum;
        }
        if (state) {
            int32_t* sel = state->selected.data() + pixel * K;
            float* wt = state->weights.data() + pixel * K;
            for (int k = 0; k < K; ++k) {
                sel[k] = k < n ? bj[k] : -1;
                wt[k] = k < n ? weight[k] : 0.0f;
            }
        }
    }
}

// Sums one tile's texel contributions into its slots: slot e (one per list
// entry) holds [d mean x, d mean y, d w1, d w2, d theta, d values[C]].
template <bool WrapX, bool WrapY>
void backward_tile(const GaussianParams& g, const RenderSettings& s, const ForwardState& st,
                   const std::vector<float>& cos_t, const std::vector<float>& sin_t, int tile,
                   const float* out, const float* grad_out, float* slots) {
    const TileLists& lists = st.tiles;
    const int K = s.k, C = g.channels, stride = 5 + C;
    const TileRect r = tile_rect(lists, s, tile);
    const int begin = lists.offsets[tile], end = lists.offsets[tile + 1];
    float* tile_slots = slots + size_t(begin) * stride;
    std::fill(tile_slots, tile_slots + size_t(end - begin) * stride, 0.0f);
    const float lx = float(s.width), ly = float(s.height);
    for (int y = r.y0; y < r.y1; ++y) {
        for (int x = r.x0; x < r.x1; ++x) {
            const size_t pixel = size_t(y) * s.width + x;
            const int32_t* sel = st.selected.data() + pixel * K;
            const float* wt = st.weights.data() + pixel * K;
            if (sel[0] < 0) continue;  // background: no gradient
            const float* go = grad_out + pixel * C;
            const float* o = out + pixel * C;
            float sum = 0.0f;
            int n = 0;
            for (; n < K && sel[n] >= 0; ++n) sum += wt[n];
            const float px = float(x) + 0.5f, py = float(y) + 0.5f;
            for (int k = 0; k < n; ++k) {
                const int i = lists.ids[begin + sel[k]];
                const float w = wt[k];
                const float* val = g.values + size_t(i) * C;
                float* slot = tile_slots + size_t(sel[k]) * stride;
                float dl_dg = 0.0f;
                for (int c = 0; c < C; ++c) {
                    dl_dg += go[c] * (val[c] - o[c]);
                    slot[5 + c] += go[c] * w / sum;
                }
                dl_dg /= sum;
                const float dl_dq = -0.5f * w * dl_dg;
                const Gauss gs = load_gauss(g, cos_t, sin_t, i);
                float dx, dy;
                offset<WrapX, WrapY>(px, py, gs, lx, ly, dx, dy);
                const float u = gs.c * dx + gs.s * dy;
                const float v = -gs.s * dx + gs.c * dy;
                const float dq_du = 2.0f * gs.w1 * gs.w1 * u;
                const float dq_dv = 2.0f * gs.w2 * gs.w2 * v;
                slot[0] -= dl_dq * (dq_du * gs.c - dq_dv * gs.s);
                slot[1] -= dl_dq * (dq_du * gs.s + dq_dv * gs.c);
                slot[2] += dl_dq * (2.0f * gs.w1 * u * u);
                slot[3] += dl_dq * (2.0f * gs.w2 * v * v);
                slot[4] += dl_dq * (dq_du * v - dq_dv * u);
            }
        }
    }
}

template <class Fn>
void dispatch_wrap(const RenderSettings& s, Fn&& fn) {
    if (s.wrap_x) {
        if (s.wrap_y) fn(std::true_type{}, std::true_type{});
        else fn(std::true_type{}, std::false_type{});
    } else {
        if (s.wrap_y) fn(std::false_type{}, std::true_type{});
        else fn(std::false_type{}, std::false_type{});
    }
}

}  // namespace

void render_forward_cpu(const GaussianParams& g, const RenderSettings& s, float* out,
                        ForwardState* state) {
    validate(g, s);
    if (!out) throw Error("out is a null pointer");
    std::vector<float> cos_t, sin_t;
    precompute_rotations(g, cos_t, sin_t);
    TileLists local;
    TileLists& lists = state ? state->tiles : local;
    build_tile_lists(g, s, cos_t, sin_t, lists);
    if (state) {
        state->settings = s;
        state->n = g.n;
        state->channels = g.channels;
        state->selected.resize(size_t(s.height) * s.width * s.k);
        state->weights.resize(size_t(s.height) * s.width * s.k);
    }
    const int threads = resolve_threads(s.threads);
    const int tiles = lists.tiles_x * lists.tiles_y;
    std::vector<TileScratch> scratch(size_t(std::max(1, std::min(threads, tiles))));
    dispatch_wrap(s, [&](auto wx, auto wy) {
        parallel_for(tiles, threads, [&](int tile, int worker) {
            forward_tile<decltype(wx)::value, decltype(wy)::value>(g, s, lists, cos_t, sin_t, tile,
                                                                   scratch[worker], out, state);
        });
    });
}

void render_backward_cpu(const GaussianParams& g, const RenderSettings& s,
                         const ForwardState& state, const float* out, const float* grad_out,
                         const GaussianGrads& grads) {
    validate(g, s);
    const RenderSettings& f = state.settings;
    if (state.n != g.n || state.channels != g.channels || f.height != s.height ||
        f.width != s.width || f.k != s.k || f.wrap_x != s.wrap_x || f.wrap_y != s.wrap_y)
        throw Error("backward: the forward state was made for different Gaussians or settings "
                    "(N, C, size, K or wrap differ)");
    if (!out) throw Error("out is a null pointer");
    if (!grad_out) throw Error("grad_out is a null pointer");
    if (g.n > 0 && (!grads.means || !grads.inv_scales || !grads.rotations || !grads.values))
        throw Error("a gradient output (means, inv_scales, rotations or values) is a null pointer");
    const int C = g.channels, stride = 5 + C;
    const TileLists& lists = state.tiles;
    std::vector<float> cos_t, sin_t;
    precompute_rotations(g, cos_t, sin_t);
    std::vector<float> slots(lists.ids.size() * size_t(stride));
    const int threads = resolve_threads(s.threads);
    const int tiles = lists.tiles_x * lists.tiles_y;
    dispatch_wrap(s, [&](auto wx, auto wy) {
        parallel_for(tiles, threads, [&](int tile, int) {
            backward_tile<decltype(wx)::value, decltype(wy)::value>(g, s, state, cos_t, sin_t, tile,
                                                                    out, grad_out, slots.data());
        });
    });
    // Per Gaussian, sum its slots in tile order; chunks of Gaussians per item.
    constexpr int kChunk = 256;
    parallel_for((g.n + kChunk - 1) / kChunk, threads, [&](int chunk, int) {
        const int i1 = std::min(g.n, (chunk + 1) * kChunk);
        float acc[5 + kMaxChannels];
        for (int i = chunk * kChunk; i < i1; ++i) {
            std::fill(acc, acc + stride, 0.0f);
            for (int32_t m = lists.gaussian_offsets[i]; m < lists.gaussian_offsets[i + 1]; ++m) {
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
