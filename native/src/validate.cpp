// Input checks shared by every native renderer: a bad call throws texgs::Error
// naming the array and the problem instead of reading out of bounds or
// rendering NaN.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

#include "texgs/render.h"

namespace texgs {
namespace {

void require_bounded(const char* name, const float* data, int64_t count, int row_length) {
    for (int64_t i = 0; i < count; ++i) {
        if (!(std::fabs(data[i]) <= kMaxMagnitude)) {
            std::string where = row_length > 1 ? "[" + std::to_string(i / row_length) + ", " +
                                                     std::to_string(i % row_length) + "]"
                                               : "[" + std::to_string(i) + "]";
            if (!std::isfinite(data[i]))
                throw Error(std::string(name) + where + " is " + (std::isnan(data[i]) ? "NaN" : "infinite") +
                            "; every parameter must be finite");
            char value[32];
            std::snprintf(value, sizeof value, "%g", double(data[i]));
            throw Error(std::string(name) + where + " is " + value +
                        "; every parameter must be within +-2^40 (1.1e12)");
        }
    }
}

std::string gib(size_t bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f GiB", double(bytes) / double(size_t(1) << 30));
    return text;
}

}  // namespace

size_t render_base_bytes(const GaussianParams& g, const RenderSettings& s, bool keep_state) {
    const size_t tiles =
        size_t((s.width + kTileSize - 1) / kTileSize) * size_t((s.height + kTileSize - 1) / kTileSize);
    const size_t padded_c = size_t(g.channels + 15) / 16 * 16;  // the widest SIMD padding
    size_t bytes = size_t(s.height) * size_t(s.width) * size_t(g.channels) * sizeof(float);
    // The forward's record (40 bytes), both axes' tile ranges (40), CSR offsets
    // and padded values per Gaussian; counts and offsets per tile.
    bytes += size_t(g.n) * (88 + 4 * padded_c) + tiles * 16;
    if (keep_state)
        bytes += tiles * kTileSize * kTileSize * 3 * sizeof(float) +      // sums, last_q, last_j
                 size_t(g.n) * (5 + size_t(g.channels)) * sizeof(float);  // gradients
    return bytes;
}

size_t tile_entry_bytes(int channels, bool keep_state) {
    // ids and their transpose; with state the touched blocks and backward's slots.
    return 8 + (keep_state ? sizeof(uint64_t) + 4 * (5 + size_t(channels)) : 0);
}

void check_budget(size_t bytes, const std::string& what) {
    if (bytes > size_t(kMaxRenderBytes))
        throw Error(what + " would allocate " + gib(bytes) + " (" + std::to_string(bytes) +
                    " bytes), over the renderer's budget of " + gib(size_t(kMaxRenderBytes)));
}

void validate_request(const GaussianParams& g, const RenderSettings& s) {
    if (s.height < 1 || s.width < 1 || s.height > kMaxSide || s.width > kMaxSide)
        throw Error("image size must be 1.." + std::to_string(kMaxSide) + " texels per side, got " +
                    std::to_string(s.height) + "x" + std::to_string(s.width) + " (HxW)");
    if (s.k < 1 || s.k > kMaxK)
        throw Error("K must be in 1.." + std::to_string(kMaxK) + ", got " + std::to_string(s.k));
    if (s.threads < 0)
        throw Error("threads must be >= 0 (0 = all hardware threads), got " + std::to_string(s.threads));
    if (g.n < 0) throw Error("Gaussian count N must be >= 0, got " + std::to_string(g.n));
    if (g.channels < 1 || g.channels > kMaxChannels)
        throw Error("channel count C must be in 1.." + std::to_string(kMaxChannels) + ", got " +
                    std::to_string(g.channels));
    if (!g.background) throw Error("background is a null pointer");
    if (g.n > 0) {
        if (!g.means) throw Error("means is a null pointer");
        if (!g.inv_scales) throw Error("inv_scales is a null pointer");
        if (!g.rotations) throw Error("rotations is a null pointer");
        if (!g.values) throw Error("values is a null pointer");
    }
}

void validate(const GaussianParams& g, const RenderSettings& s) {
    validate_request(g, s);
    if (g.n > 0) {
        require_bounded("means", g.means, int64_t(g.n) * 2, 2);
        require_bounded("inv_scales", g.inv_scales, int64_t(g.n) * 2, 2);
        require_bounded("rotations", g.rotations, g.n, 1);
        require_bounded("values", g.values, int64_t(g.n) * g.channels, g.channels);
    }
    require_bounded("background", g.background, g.channels, 1);
}

}  // namespace texgs
