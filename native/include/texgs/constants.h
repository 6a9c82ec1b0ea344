// Limits of the texgs image function. Mirrors texgs/constants.py; the Python
// package checks at import time that both hold the same values.
#pragma once

namespace texgs {

constexpr int kMaxK = 16;           // largest top-K
constexpr int kMaxChannels = 32;    // largest channel count C
constexpr float kQCutoff = 9.0f;    // q <= 9  <=>  inside 3 sigma
constexpr int kTileSize = 16;       // candidate tiles are kTileSize x kTileSize texels
constexpr int kMaxSide = 65536;     // largest image side: keeps H*W*K and tile indices in range

}  // namespace texgs
