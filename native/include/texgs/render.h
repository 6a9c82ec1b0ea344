// Plain C++ API of the texgs renderer: the image function of
// docs/IMAGE_FUNCTION.md, forward and backward, on the CPU (render_cpu.cpp)
// and with CUDA (cuda/render_cuda.cu). No Python, no torch: arrays are raw
// pointers to contiguous float32 / int32 buffers whose shapes are given beside
// each field. Errors are reported by throwing texgs::Error, never by aborting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "texgs/constants.h"

namespace texgs {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// The Gaussians, read-only. N may be 0 (the image is all background).
struct GaussianParams {
    int n = 0;                          // N, number of Gaussians
    int channels = 0;                   // C, 1..kMaxChannels
    const float* means = nullptr;       // [N, 2] centre (x, y) in texels
    const float* inv_scales = nullptr;  // [N, 2] (w1, w2) inverse std-devs, 1/texels
    const float* rotations = nullptr;   // [N]    theta, radians
    const float* values = nullptr;      // [N, C] per-channel values
    const float* background = nullptr;  // [C]    value of a texel no Gaussian reaches
};

// What to render.
struct RenderSettings {
    int height = 0;       // H >= 1
    int width = 0;        // W >= 1
    int k = 10;           // top-K, 1..kMaxK
    bool wrap_x = false;  // wrap (torus) or clamp along x
    bool wrap_y = false;  // likewise along y
    int threads = 0;      // CPU worker threads; 0 = all hardware threads. Never changes results.
};

// Per-tile candidate lists, built by the forward pass and reused by backward.
// Tiles are kTileSize^2 texels in raster order (the last column / row of tiles
// may be partial); a tile's list holds, in increasing Gaussian index, every
// Gaussian whose padded 3-sigma box touches it. An acceleration structure only.
struct TileLists {
    int tiles_x = 0, tiles_y = 0;
    std::vector<int32_t> offsets;  // [tiles + 1] CSR offsets into ids
    std::vector<int32_t> ids;      // [entries] Gaussian index
    // The transpose, for the per-Gaussian reduction of backward:
    std::vector<int32_t> gaussian_offsets;  // [N + 1] CSR offsets into gaussian_entries
    std::vector<int32_t> gaussian_entries;  // [entries] positions in ids, in increasing tile order
};

// Memory for large arrays: from 2 MiB up, 2 MiB aligned and advised to use
// transparent huge pages (a forward state is tens of MB; faulting it in 4 KiB
// pages would cost as much as rendering it), else 64-byte aligned. Freed
// blocks of 256 KiB and more are kept for reuse (at most 16 blocks, 256 MiB;
// native/src/large_array.cpp), so a fit's repeated renders of one size need
// no fresh pages. Contents are unspecified.
// Thread-safe. Throws std::bad_alloc when out of memory.
void* allocate_large(size_t bytes);
void free_large(void* p) noexcept;

// A large array whose contents are unspecified after resize (no zero fill).
template <class T>
class LargeArray {
  public:
    void resize(size_t n) {
        if (n == size_) return;
        data_.reset(n ? static_cast<T*>(allocate_large(n * sizeof(T))) : nullptr);
        size_ = n;
    }
    T* data() { return data_.get(); }
    const T* data() const { return data_.get(); }
    size_t size() const { return size_; }

  private:
    struct Free {
        void operator()(T* p) const noexcept { free_large(p); }
    };
    std::unique_ptr<T[], Free> data_;
    size_t size_ = 0;
};

// What backward needs from forward, compactly (a few bytes per texel): per
// texel the sum of the selected weights and its K-th selection, and per
// tile-list entry the lane blocks of its tile that took an insertion of it.
// A texel selected an entry exactly when (q, entry) comes before or is its
// K-th selection in (q, index) order, so backward recomputes each q and G
// with the same float operations as forward and needs nothing else.
// Texel t of a tile is row * kTileSize + column.
struct ForwardState {
    RenderSettings settings;  // what forward rendered (backward checks it matches)
    int n = 0, channels = 0;  // N and C forward saw
    TileLists tiles;
    LargeArray<float> sums;        // [tiles, kTileSize^2] S = sum of the selected G, summed in
                                   // selection order; 0 = no candidate (background)
    LargeArray<float> last_q;      // [tiles, kTileSize^2] q of the K-th selection; +inf when the
                                   // texel has fewer than K candidates (all of them selected)
    LargeArray<int32_t> last_j;    // [tiles, kTileSize^2] its tile-list entry, local to the tile
    LargeArray<uint64_t> touched;  // [tile-list entries] bit b: lane block b of the tile took an
                                   // insertion of the entry (its selecting texels lie in these)
};

// Gradients, written (not accumulated) by backward; caller allocates.
struct GaussianGrads {
    float* means = nullptr;       // [N, 2]
    float* inv_scales = nullptr;  // [N, 2]
    float* rotations = nullptr;   // [N]
    float* values = nullptr;      // [N, C]
};

// Memory a CPU render allocates, for the kMaxRenderBytes budget: the output,
// per-Gaussian and per-tile arrays (known before anything is allocated) plus
// tile_entry_bytes per tile-list entry (counted before the lists are). With
// keep_state, the state and backward's per-entry slots are included, so a
// backward never exceeds the budget its forward passed.
size_t render_base_bytes(const GaussianParams& g, const RenderSettings& s, bool keep_state);
size_t tile_entry_bytes(int channels, bool keep_state);
// Throws texgs::Error giving `bytes` and the budget when bytes > kMaxRenderBytes.
void check_budget(size_t bytes, const std::string& what);

// Throws texgs::Error naming the problem: sizes, K, C, threads, null pointers.
// Reads no parameter data, so the CUDA path calls it on device pointers too.
void validate_request(const GaussianParams& g, const RenderSettings& s);

// validate_request, then any NaN/Inf or |x| > kMaxMagnitude in the (host) parameters.
void validate(const GaussianParams& g, const RenderSettings& s);

// A weighted L2 data term fused into the render, so a training step needs no
// whole-image passes of its own: the stored value of channel c at a texel is
// lo[c] + span[c] out[c]. Forward sums each channel's squared error against
// target; backward adds its gradient, dL/dout[c] = loss_grad coef[c]
// (lo[c] + span[c] out[c] - target[c]) (texgs/fit/loss.py: weighted_l2 does
// the same arithmetic on whole images).
struct L2Term {
    const float* target = nullptr;  // [H, W, C]
    const float* lo = nullptr;      // [C]
    const float* span = nullptr;    // [C]
    const float* coef = nullptr;    // [C] backward only: d loss / d out per unit of stored error
    float loss_grad = 1.0f;         // backward only: dL/d(the term)
};

// out: [H, W, C]. state may be null (inference); when given, it is filled for backward.
// With l2, squared_error [C] receives each channel's sum over the texels of
// (lo + span out - target)^2, summed per tile in a fixed order, then over the
// tiles in raster order (double precision): the same bits for any s.threads.
void render_forward_cpu(const GaussianParams& g, const RenderSettings& s, float* out, ForwardState* state,
                        const L2Term* l2 = nullptr, double* squared_error = nullptr);

// grad_out: [H, W, C] dL/dout; out: [H, W, C] the forward result; state: what
// render_forward_cpu filled for the same g and s (throws texgs::Error if N, C
// or the settings differ). Deterministic: the same bits for any s.threads.
// With l2, dL/dout is its gradient plus grad_out where grad_out is not null
// (another term's gradient of the same image).
void render_backward_cpu(const GaussianParams& g, const RenderSettings& s, const ForwardState& state,
                         const float* out, const float* grad_out, const GaussianGrads& grads,
                         const L2Term* l2 = nullptr);

}  // namespace texgs
