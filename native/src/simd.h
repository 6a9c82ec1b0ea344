// SIMD helpers of the CPU renderer: kLanes-wide float / int vectors (GCC/Clang
// vector extensions) and the lane operations render_cpu.cpp builds on. Every
// helper is deterministic for a given build (fixed lane order, no
// thread-dependent reduction) and bit-identical to its scalar counterpart
// where the comment says so.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "texgs/image_function.h"

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace texgs {

// kLanes float / int lanes (GCC/Clang vector extensions): one register of
// the widest vector ISA the build targets (AVX-512, AVX, else SSE).
// may_alias: the same storage is also read lane by lane as float / int32_t.
#if defined(__AVX512F__)
constexpr int kLanes = 16;
#elif defined(__AVX__)
constexpr int kLanes = 8;
#else
constexpr int kLanes = 4;
#endif
typedef float vfloat __attribute__((vector_size(kLanes * 4), may_alias));
typedef int32_t vint __attribute__((vector_size(kLanes * 4), may_alias));

// Storage for one vfloat inside std::vector (aligned like vfloat).
struct alignas(sizeof(vfloat)) Lanes {
    float lane[kLanes];
};

// Whether any lane of a comparison mask is set (-1).
inline bool any_lane(vint m) {
#if defined(__AVX512F__)
    return _mm512_test_epi32_mask(__m512i(m), __m512i(m)) != 0;
#elif defined(__AVX2__)
    return !_mm256_testz_si256(__m256i(m), __m256i(m));
#else
    int32_t lanes[kLanes];
    std::memcpy(lanes, &m, sizeof(lanes));
    int32_t bits = 0;
    for (int l = 0; l < kLanes; ++l) bits |= lanes[l];
    return bits != 0;
#endif
}

// Asks for the cache line holding p to be loaded (a hint). x86 builds use
// the instruction itself: GCC's vectoriser drops __builtin_prefetch from
// the loops it vectorises.
inline void prefetch(const void* p) {
#if defined(__SSE__)
    asm volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p)));
#else
    __builtin_prefetch(p);
#endif
}

// Stores the first `count` lanes of v to p (count in 1..kLanes).
inline void store_lanes(float* p, vfloat v, int count) {
#if defined(__AVX512F__)
    _mm512_mask_storeu_ps(p, __mmask16((1u << count) - 1u), __m512(v));
#elif defined(__AVX__)
    const vint lane = {0, 1, 2, 3, 4, 5, 6, 7};
    _mm256_maskstore_ps(p, __m256i(lane < count), __m256(v));
#else
    if (count == kLanes) {
        std::memcpy(p, &v, sizeof(v));
    } else {
        for (int l = 0; l < count; ++l) p[l] = v[l];
    }
#endif
}

// Stores v to p (aligned to sizeof(vfloat)) bypassing the caches: for output
// that is written once and read much later (the renderer's [H, W, C] image,
// larger than the caches), it saves reading each line in before writing it.
// Weakly ordered: stream_fence() before the data is handed to another thread.
inline void stream_store(float* p, vfloat v) {
#if defined(__AVX512F__)
    _mm512_stream_ps(p, __m512(v));
#elif defined(__AVX__)
    _mm256_stream_ps(p, __m256(v));
#elif defined(__SSE__)
    _mm_stream_ps(p, __m128(v));
#else
    std::memcpy(p, &v, sizeof(v));
#endif
}

inline void stream_fence() {
#if defined(__SSE__)
    _mm_sfence();
#endif
}

#if defined(__AVX512F__)
// Transposes 16 rows of 16 floats in r: afterwards r[c] lane l = old r[l] lane c.
inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int h = 0; h < 16; h += 8)
        for (int i = 0; i < 4; ++i) {
            t[h + i] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0x88);
            t[h + i + 4] = _mm512_shuffle_f32x4(r[h + i], r[h + i + 4], 0xdd);
        }
    for (int i = 0; i < 8; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}
#endif

// col[c] lane l = p[l * stride + c] for c, l in [0, kLanes): kLanes rows of
// kLanes floats, transposed (exact copies).
inline void load_transposed(const float* p, size_t stride, vfloat col[kLanes]) {
#if defined(__AVX2__) && !defined(__AVX512F__)
    __m256 r[8], t[8];
    for (int l = 0; l < 8; ++l) r[l] = _mm256_loadu_ps(p + l * stride);
    for (int l = 0; l < 8; l += 2) {
        t[l] = _mm256_unpacklo_ps(r[l], r[l + 1]);
        t[l + 1] = _mm256_unpackhi_ps(r[l], r[l + 1]);
    }
    for (int h = 0; h < 8; h += 4) {
        r[h] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(1, 0, 1, 0));
        r[h + 1] = _mm256_shuffle_ps(t[h], t[h + 2], _MM_SHUFFLE(3, 2, 3, 2));
        r[h + 2] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(1, 0, 1, 0));
        r[h + 3] = _mm256_shuffle_ps(t[h + 1], t[h + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (int c = 0; c < 4; ++c) {
        col[c] = vfloat(_mm256_permute2f128_ps(r[c], r[c + 4], 0x20));
        col[c + 4] = vfloat(_mm256_permute2f128_ps(r[c], r[c + 4], 0x31));
    }
#elif defined(__AVX512F__)
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = _mm512_loadu_ps(p + l * stride);
    transpose16(r);
    for (int c = 0; c < 16; ++c) col[c] = vfloat(r[c]);
#else
    for (int c = 0; c < kLanes; ++c) {
        float lanes[kLanes];
        for (int l = 0; l < kLanes; ++l) lanes[l] = p[l * stride + c];
        std::memcpy(&col[c], lanes, sizeof(lanes));
    }
#endif
}

// Lane l = p[l * stride + c] for l in [0, kLanes): one column of kLanes rows
// (exact copies).
inline vfloat load_column(const float* p, size_t stride, size_t c) {
    vfloat col;
    for (int l = 0; l < kLanes; ++l) col[l] = p[l * stride + c];
    return col;
}

// col[c] lane l = p[l * stride + c] for c in [0, count), l in [0, kLanes)
// (count in 1..kLanes; exact copies): the columns left over after whole
// load_transposed registers, e.g. 9 channels on 16 lanes. Reads only those
// floats (AVX-512: one masked load per row, then a 16 x 16 transpose).
inline void load_columns(const float* p, size_t stride, int count, vfloat col[kLanes]) {
#if defined(__AVX512F__)
    const __mmask16 row_mask = __mmask16((1u << count) - 1u);
    __m512 r[16];
    for (int l = 0; l < 16; ++l) r[l] = _mm512_maskz_loadu_ps(row_mask, p + l * stride);
    transpose16(r);
    for (int c = 0; c < count; ++c) col[c] = vfloat(r[c]);
#else
    for (int c = 0; c < count; ++c) col[c] = load_column(p, stride, size_t(c));
#endif
}

// load_column(p, stride, stride - 1) for stride = m kLanes + 1 (the channel
// left over after whole registers, e.g. 9 channels on 8 lanes): lane l lies
// in lane l of the register at p + m kLanes (l + 1), so one load and blend
// per lane replaces a scalar load and insert.
inline vfloat load_last_column(const float* p, size_t stride) {
    const size_t step = stride - 1;  // m kLanes
#if defined(__AVX2__) && !defined(__AVX512F__)
    __m256 col = _mm256_loadu_ps(p + step);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 2 * step), 0x02);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 3 * step), 0x04);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 4 * step), 0x08);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 5 * step), 0x10);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 6 * step), 0x20);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 7 * step), 0x40);
    col = _mm256_blend_ps(col, _mm256_loadu_ps(p + 8 * step), 0x80);
    return vfloat(col);
#else
    return load_column(p, stride, step);
#endif
}

// floor() per lane, bit-identical to std::floor: exact through int32 for
// |x| < 2^23; larger floats (and NaN) are already whole and pass through.
inline vfloat floor_lanes(vfloat x) {
    const vfloat abs_x = x < 0.0f ? -x : x;
    const vfloat t =
        __builtin_convertvector(__builtin_convertvector(abs_x < 8388608.0f ? x : vfloat{}, vint), vfloat);
    const vfloat f = t > x ? t - 1.0f : t;
    return abs_x < 8388608.0f ? f : x;
}

// The lanes of acc summed in a fixed order (halves, then quarters, then the
// rest in order): deterministic for a given build, whatever thread runs it.
inline float sum_lanes(vfloat acc) {
    typedef float half_t __attribute__((vector_size(sizeof(vfloat) / 2)));
    typedef float quarter_t __attribute__((vector_size(sizeof(vfloat) / 4)));
    half_t h[2];
    std::memcpy(h, &acc, sizeof(h));
    const half_t a = h[0] + h[1];
    quarter_t q[2];
    std::memcpy(q, &a, sizeof(q));
    const quarter_t b = q[0] + q[1];  // kLanes / 4 lanes left, summed in order
    float total = 0.0f;
    for (size_t l = 0; l < sizeof(quarter_t) / sizeof(float); ++l) total += b[l];
    return total;
}

// vfloat as a template argument drops its may_alias attribute (GCC warns); the
// specialisation only passes values, never aliased storage.
#pragma GCC diagnostic ignored "-Wignored-attributes"

// The image function's maths (texgs/image_function.h) on kLanes lanes at once:
// the same operations as on one float, lane by lane, so the same bits.
template <>
struct LaneOps<vfloat> {
    static vfloat floor(vfloat x) { return floor_lanes(x); }
    static vfloat trunc(vfloat x) {
        return __builtin_convertvector(__builtin_convertvector(x, vint), vfloat);
    }
    static vfloat fma(vfloat a, vfloat b, vfloat c) {
#if defined(__AVX512F__)
        return vfloat(_mm512_fmadd_ps(__m512(a), __m512(b), __m512(c)));
#elif defined(__FMA__) && defined(__AVX2__)
        return vfloat(_mm256_fmadd_ps(__m256(a), __m256(b), __m256(c)));
#else
        vfloat r;  // no fused instruction: lane by lane, the same bits, slower
        for (int l = 0; l < kLanes; ++l) r[l] = std::fma(a[l], b[l], c[l]);
        return r;
#endif
    }
    static vfloat exp2_int(vfloat n) {
        const vint bits = (__builtin_convertvector(n, vint) + 127) << 23;
        vfloat scale;
        std::memcpy(&scale, &bits, sizeof(scale));
        return scale;
    }
};

}  // namespace texgs
