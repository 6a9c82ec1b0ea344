// The per-Gaussian and per-texel maths of the texgs image function
// (docs/IMAGE_FUNCTION.md), written once for both renderers: the CPU one
// (native/src/render_cpu.cpp, on floats and on kLanes-wide vectors) and the
// CUDA one (native/cuda/render_cuda.cu). Every function is inline and marked
// TEXGS_HD, so nvcc compiles it for host and device; the CPU build (g++)
// sees plain inline functions.
//
// The texel maths is templated on its value type T: float, or a lane vector
// for which texgs::LaneOps<T> is specialised (native/src/simd.h). Operations
// run in exactly the order of the spec; both builds disable fused
// multiply-add contraction (-ffp-contract=off, --fmad=false), so each
// backend's q, and hence its top-K selection, rounds like the PyTorch
// reference.
#pragma once

#include <math.h>

#include <cstdint>
#include <cstring>

#include "texgs/constants.h"

#if defined(__CUDACC__)
#define TEXGS_HD __host__ __device__
#else
#define TEXGS_HD
#endif

namespace texgs {

// Per value type: floor, a float holding an integer -> 2^that, truncation and
// fused multiply-add.
// LaneOps<float> is here; simd.h specialises it for the CPU's lane vectors.
template <class T>
struct LaneOps;

template <>
struct LaneOps<float> {
    TEXGS_HD static float floor(float x) { return ::floorf(x); }
    // Truncation toward zero, as a float (|x| < 2^31).
    TEXGS_HD static float trunc(float x) { return static_cast<float>(static_cast<int32_t>(x)); }
    // a b + c rounded once (an explicit fused multiply-add; contraction is off).
    TEXGS_HD static float fma(float a, float b, float c) { return ::fmaf(a, b, c); }
    // 2^n for a float n holding an integer in [-126, 127].
    TEXGS_HD static float exp2_int(float n) {
        const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
        float scale;
        memcpy(&scale, &bits, sizeof(scale));
        return scale;
    }
};

// Addressing of the two axes: wrapped (torus, period W or H) or clamped.
struct Wrap {
    bool x, y;
    float period_x, period_y;  // W and H as float
};

// d - period * floor(d / period + 1/2): the offset to the nearest periodic copy.
template <class T>
TEXGS_HD inline T wrap_offset(T d, float period) {
    return d - period * LaneOps<T>::floor(d / period + 0.5f);
}

// The offset of texel centre (px, py) from the mean (mx, my), wrapped on
// wrapped axes, rotated into the Gaussian's frame (c = cos theta, s = sin
// theta): u = c dx + s dy, v = -s dx + c dy.
template <class T>
TEXGS_HD inline void frame_offset(T px, T py, float mx, float my, float c, float s, const Wrap& w, T& u,
                                  T& v) {
    T dx = px - mx;
    T dy = py - my;
    if (w.x) dx = wrap_offset(dx, w.period_x);
    if (w.y) dy = wrap_offset(dy, w.period_y);
    u = c * dx + s * dy;
    v = -s * dx + c * dy;
}

// q = (w1 u)^2 + (w2 v)^2: the squared Mahalanobis distance.
template <class T>
TEXGS_HD inline T quad_form(T u, T v, float w1, float w2) {
    const T a = w1 * u;
    const T b = w2 * v;
    return a * a + b * b;
}

// The 3-sigma test: a texel is a candidate of a Gaussian when q <= kQCutoff
// (false for NaN). bool for float, a lane mask for vectors.
template <class T>
TEXGS_HD inline auto within_cutoff(T q) {
    return q <= kQCutoff;
}

// e^x for x in [-kQCutoff / 2, 0] (the weight of a candidate): Cody-Waite
// reduction x = n ln2 + r, |r| <= ln2/2, then a degree-7 Taylor polynomial;
// within 2 ulp of the exact value over that range (the spec lets
// implementations' exp differ by ulps), the same bits on every backend. Not
// valid far outside the range.
template <class T>
TEXGS_HD inline T exp_candidate(T x) {
    const float log2e = 1.44269504f, ln2_hi = 0.693359375f, ln2_lo = -2.12194440e-4f;
    // n = round(x log2e); the +16 keeps the truncation a floor.
    const T n = LaneOps<T>::trunc(x * log2e + 16.5f) - 16.0f;
    const T r = (x - n * ln2_hi) - n * ln2_lo;
    // Horner's steps as fused multiply-adds: one rounding each, and the same
    // on every backend (IEEE fma is exactly rounded).
    T p = LaneOps<T>::fma(r, T{} + 1.0f / 5040.0f, T{} + 1.0f / 720.0f);
    p = LaneOps<T>::fma(p, r, T{} + 1.0f / 120.0f);
    p = LaneOps<T>::fma(p, r, T{} + 1.0f / 24.0f);
    p = LaneOps<T>::fma(p, r, T{} + 1.0f / 6.0f);
    p = LaneOps<T>::fma(p, r, T{} + 0.5f);
    p = LaneOps<T>::fma(p, r, T{} + 1.0f);
    p = LaneOps<T>::fma(p, r, T{} + 1.0f);
    return p * LaneOps<T>::exp2_int(n);
}

// G = exp(-q / 2), the weight of a candidate (q <= kQCutoff).
template <class T>
TEXGS_HD inline T gaussian_weight(T q) {
    return exp_candidate(-0.5f * q);
}

// dL/dG of one selected Gaussian at a texel: sum_c dL/dout_c (value_c - out_c) / S,
// from grad_dot_value = sum_c dL/dout_c value_c, grad_dot_out = sum_c dL/dout_c
// out_c and S = the sum of the texel's selected weights.
template <class T>
TEXGS_HD inline T dloss_dweight(T grad_dot_value, T grad_dot_out, T sum) {
    return (grad_dot_value - grad_dot_out) / sum;
}

// dL/dq = dL/dG dG/dq = -G/2 dL/dG.
template <class T>
TEXGS_HD inline T dloss_dq(T weight, T dl_dweight) {
    return -0.5f * weight * dl_dweight;
}

// The per-texel gradient of q's inputs times dL/dq: d mean x, d mean y, d w1,
// d w2, d theta, from the frame offset (u, v) of the texel.
template <class T>
struct ShapeGrads {
    T mean_x, mean_y, w1, w2, theta;
};

template <class T>
TEXGS_HD inline ShapeGrads<T> shape_grads(T u, T v, float c, float s, float w1, float w2, T dl_dq) {
    const T dq_du = 2.0f * w1 * w1 * u;
    const T dq_dv = 2.0f * w2 * w2 * v;
    ShapeGrads<T> g;
    g.mean_x = -dl_dq * (dq_du * c - dq_dv * s);  // dq/dmx = -dq/ddx
    g.mean_y = -dl_dq * (dq_du * s + dq_dv * c);
    g.w1 = dl_dq * (2.0f * w1 * u * u);
    g.w2 = dl_dq * (2.0f * w2 * v * v);
    g.theta = dl_dq * (dq_du * v - dq_dv * u);
    return g;
}

// ------------------------------------------------------------- tile bound ---
//
// Conservative tile binning, in double precision. A Gaussian's candidate
// region (q <= kQCutoff) is an ellipse whose axis-aligned box has half-extents
//   r_x = 3 sqrt(cos^2 / w1^2 + sin^2 / w2^2),  r_y = 3 sqrt(sin^2 / w1^2 + cos^2 / w2^2).
// Renderers decide candidacy with float arithmetic, so the box is grown to
// cover every texel whose *rounded* q can still be <= kQCutoff (box_radius),
// and w = 0 gives an infinite extent.

namespace tile_bound {

TEXGS_HD inline bool is_finite(double x) { return fabs(x) <= 1.7976931348623157e308; }  // false for NaN

TEXGS_HD inline double square_over(double a, double w) {  // a^2 / w^2 with 0 / 0 = 0 (axis term absent)
    return a == 0.0 ? 0.0 : (a * a) / (w * w);
}

TEXGS_HD inline double mul0(double a, double b) {  // a * b with 0 * inf = 0
    return (a == 0.0 || b == 0.0) ? 0.0 : a * b;
}

// Column/row index -> tile index, for a non-negative texel index.
TEXGS_HD inline int tile_of(int64_t texel) { return static_cast<int>(texel / kTileSize); }

}  // namespace tile_bound

// Inclusive tile indices along one axis; empty when lo > hi.
struct TileRange {
    int lo, hi;
    TEXGS_HD int length() const { return hi >= lo ? hi - lo + 1 : 0; }
};

// The tiles along one axis touched by a box: at most two ranges (a box that
// wraps around the torus), sorted and disjoint; unused ranges are empty.
struct AxisTiles {
    int count = 0;
    TileRange range[2] = {{0, -1}, {0, -1}};
    TEXGS_HD int length() const { return range[0].length() + range[1].length(); }
};

TEXGS_HD inline AxisTiles whole_axis(int size) {
    AxisTiles t;
    t.count = 1;
    t.range[0] = {0, tile_bound::tile_of(size - 1)};
    return t;
}

// Tiles covering the texels whose centre (index + 0.5) lies within `radius`
// of `centre` along an axis of `size` texels (wrapped: of any periodic copy).
TEXGS_HD inline AxisTiles axis_tiles(double centre, double radius, int size, bool wrap) {
    using tile_bound::tile_of;
    if (!tile_bound::is_finite(radius)) return whole_axis(size);
    AxisTiles t;
    if (wrap) {
        // A box as wide as the period covers every texel (each through its nearest copy).
        if (2.0 * radius + 2.0 >= size) return whole_axis(size);
        const double m = centre - size * floor(centre / size);  // [0, size]
        const int64_t lo = static_cast<int64_t>(floor(m - 0.5 - radius));
        const int64_t hi = static_cast<int64_t>(ceil(m - 0.5 + radius));
        if (hi - lo + 1 >= size) return whole_axis(size);
        const int64_t a = ((lo % size) + size) % size, b = ((hi % size) + size) % size;
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
    const double lo = floor(centre - 0.5 - radius), hi = ceil(centre - 0.5 + radius);
    if (hi < 0.0 || lo > size - 1.0) return t;  // entirely outside: no tile
    t.count = 1;
    t.range[0] = {tile_of(static_cast<int64_t>(lo > 0.0 ? lo : 0.0)),
                  tile_of(static_cast<int64_t>(hi < size - 1.0 ? hi : size - 1.0))};
    return t;
}

// Half-extents (r_x, r_y) of the box holding every texel whose float-computed
// q can be <= kQCutoff, for the float cos / sin (c, s) the renderer uses.
// Float rounding of u = c dx + s dy is at most a few ulps of |c dx| + |s dy|;
// w1 times that shifts a = w1 u, which moves q by about 2 |a| |da|. The shift
// is bounded over the ideal box, the q threshold grown by it (plus a relative
// margin), and an absolute margin added for the rounding of dx = p - mean
// itself (a few ulps of |mean| + period).
TEXGS_HD inline void box_radius(double c, double s, double w1, double w2, double mx, double my, int width,
                                int height, double& rx, double& ry) {
    using tile_bound::is_finite;
    using tile_bound::mul0;
    using tile_bound::square_over;
    const double inf = HUGE_VAL;
    const double ideal_x = sqrt(square_over(c, w1) + square_over(s, w2));
    const double ideal_y = sqrt(square_over(s, w1) + square_over(c, w2));
    const double q_cut = kQCutoff;
    const double r0x = kSigmaCutoff * ideal_x, r0y = kSigmaCutoff * ideal_y;  // ideal radii at q = kQCutoff
    const double ulp_rel = 1.0 / 1048576.0;                                   // 2^-20: several float ulps
    const double da = ulp_rel * fabs(w1) * (mul0(fabs(c), 2 * r0x) + mul0(fabs(s), 2 * r0y));
    const double db = ulp_rel * fabs(w2) * (mul0(fabs(s), 2 * r0x) + mul0(fabs(c), 2 * r0y));
    // 3.1: a bound just above sqrt(kQCutoff) = kSigmaCutoff on sqrt(q) near the cut-off.
    double q_box = q_cut * (1.0 + 1e-4) + 2.0 * 3.1 * (da + db) + 2.0 * (da * da + db * db);
    if (!is_finite(q_box)) q_box = inf;
    const double grow = sqrt(q_box / q_cut);
    rx = is_finite(ideal_x) ? r0x * grow : inf;
    ry = is_finite(ideal_y) ? r0y * grow : inf;
    // dx = px - mx (and its wrap) is rounded to a few ulps of |mx| + period.
    rx += ulp_rel * (fabs(mx) + width) + 1e-3;
    ry += ulp_rel * (fabs(my) + height) + 1e-3;
    if (rx != rx) rx = inf;  // NaN
    if (ry != ry) ry = inf;
}

// The tiles one Gaussian can reach: ranges along x and y (the tiles are their
// product). c, s: the renderer's float cos / sin of its rotation.
struct GaussianTiles {
    AxisTiles x, y;
    TEXGS_HD int64_t count() const { return int64_t(x.length()) * y.length(); }
};

TEXGS_HD inline GaussianTiles gaussian_tiles(float mx, float my, float w1, float w2, float c, float s,
                                             int width, int height, bool wrap_x, bool wrap_y) {
    double rx, ry;
    box_radius(c, s, w1, w2, mx, my, width, height, rx, ry);
    GaussianTiles t;
    t.x = axis_tiles(mx, rx, width, wrap_x);
    t.y = axis_tiles(my, ry, height, wrap_y);
    return t;
}

}  // namespace texgs
