// Limits of the texgs image function. Mirrors texgs/constants.py; the Python
// package checks at import time that both hold the same values.
#pragma once

#include <cstdint>

namespace texgs {

constexpr int kMaxK = 16;             // largest top-K
constexpr int kMaxChannels = 32;      // largest channel count C
constexpr float kSigmaCutoff = 3.0f;  // a Gaussian's radius: kSigmaCutoff / min(inverse scales)
constexpr float kQCutoff = 9.0f;      // q <= 9  <=>  inside 3 sigma
static_assert(kSigmaCutoff * kSigmaCutoff == kQCutoff, "kQCutoff is kSigmaCutoff squared");
constexpr int kTileSize = 16;    // candidate tiles are kTileSize x kTileSize texels
constexpr int kMaxSide = 65536;  // largest image side: keeps H*W*K and tile indices in range
// Largest total bytes of the buffers one render allocates (output, per-Gaussian
// and per-tile arrays, tile lists, the state backward needs): refused beyond.
constexpr int64_t kMaxRenderBytes = 8589934592;  // 2^33 = 8 GiB
// Largest |x| of any parameter (means, inv_scales, rotations, values,
// background): K-term blends and their gradients stay finite in float32.
constexpr float kMaxMagnitude = 1099511627776.0f;  // 2^40

}  // namespace texgs
