// Input checks shared by every native renderer: a bad call throws texgs::Error
// naming the array and the problem instead of reading out of bounds or
// rendering NaN.
#include <cmath>
#include <cstdint>
#include <string>

#include "texgs/render.h"

namespace texgs {
namespace {


void require_finite(const char* name, const float* data, int64_t count, int row_length) {
    for (int64_t i = 0; i < count; ++i) {
        if (!std::isfinite(data[i])) {
            std::string where = row_length > 1
                                    ? "[" + std::to_string(i / row_length) + ", " +
                                          std::to_string(i % row_length) + "]"
                                    : "[" + std::to_string(i) + "]";
            throw Error(std::string(name) + where + " is " +
                        (std::isnan(data[i]) ? "NaN" : "infinite") +
                        "; every parameter must be finite");
        }
    }
}

}  // namespace

void validate_request(const GaussianParams& g, const RenderSettings& s) {
    if (s.height < 1 || s.width < 1 || s.height > kMaxSide || s.width > kMaxSide)
        throw Error("image size must be 1.." + std::to_string(kMaxSide) + " texels per side, got " +
                    std::to_string(s.height) + "x" + std::to_string(s.width) + " (HxW)");
    if (s.k < 1 || s.k > kMaxK)
        throw Error("K must be in 1.." + std::to_string(kMaxK) + ", got " + std::to_string(s.k));
    if (s.threads < 0)
        throw Error("threads must be >= 0 (0 = all hardware threads), got " +
                    std::to_string(s.threads));
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
        require_finite("means", g.means, int64_t(g.n) * 2, 2);
        require_finite("inv_scales", g.inv_scales, int64_t(g.n) * 2, 2);
        require_finite("rotations", g.rotations, g.n, 1);
        require_finite("values", g.values, int64_t(g.n) * g.channels, g.channels);
    }
    require_finite("background", g.background, g.channels, 1);
}

}  // namespace texgs
