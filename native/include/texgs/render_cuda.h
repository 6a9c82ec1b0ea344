// Plain C++ API of the CUDA renderer (native/cuda/render_cuda.cu): the image
// function of docs/IMAGE_FUNCTION.md, forward and backward, with the same
// semantics as the CPU functions of texgs/render.h. No torch, no CUDA headers:
// arrays are raw DEVICE pointers (float32 / int32, contiguous, shapes beside
// each field of GaussianParams / GaussianGrads), streams are cudaStream_t
// passed as void*. Errors throw texgs::Error carrying the CUDA error string;
// nothing aborts. Design notes: docs/cuda.md.
#pragma once

#include <cstddef>
#include <cstdint>

#include "texgs/render.h"

namespace texgs {

// Number of CUDA devices usable by this process; 0 when there is no driver, no
// device, or the driver is too old. Never throws.
int cuda_device_count() noexcept;

// True when at least one CUDA device can be used. Never throws.
bool cuda_runtime_available() noexcept;

// Returns the device memory this library keeps cached for reuse (its own
// stream-ordered pools, see docs/cuda.md) to the driver. Never throws.
void cuda_release_cached_memory() noexcept;

// One device allocation, stream-ordered: allocated on a stream and freed on
// the stream of its last use, so frees never race kernels still reading it.
// Move-only; the destructor frees (and never throws).
class CudaBuffer {
  public:
    CudaBuffer() = default;
    ~CudaBuffer();
    CudaBuffer(CudaBuffer&& other) noexcept;
    CudaBuffer& operator=(CudaBuffer&& other) noexcept;
    CudaBuffer(const CudaBuffer&) = delete;
    CudaBuffer& operator=(const CudaBuffer&) = delete;

    // Frees any previous allocation, then allocates `bytes` on `device`, ordered
    // on `stream` (cudaStream_t). bytes == 0 leaves data() null. Throws texgs::Error.
    void allocate(std::size_t bytes, int device, void* stream);
    // Frees now (stream-ordered). Safe to call twice.
    void release() noexcept;
    void* data() const noexcept { return ptr_; }
    std::size_t bytes() const noexcept { return bytes_; }
    template <class T>
    T* as() const noexcept {
        return static_cast<T*>(ptr_);
    }

  private:
    void* ptr_ = nullptr;
    std::size_t bytes_ = 0;
    int device_ = -1;
    void* stream_ = nullptr;  // cudaStream_t
    bool pooled_ = false;     // from this library's pool (cudaFreeAsync) or cudaMalloc (cudaFree)
};

// What the CUDA backward pass needs from the forward pass. Filled by
// render_forward_cuda (training); every buffer lives on `device` and is freed by
// the destructor. Tiles are kTileSize x kTileSize texels in raster order
// (tile = ty * tiles_x + tx); a tile's texel t is (row ty*kTileSize + t / kTileSize,
// column tx*kTileSize + t % kTileSize); kTileTexels = kTileSize^2.
struct CudaForwardState {
    bool valid = false;  // true once a forward pass completed into this state
    // What was rendered; render_backward_cuda checks the call matches.
    int n = 0, channels = 0, height = 0, width = 0, k = 0;
    bool wrap_x = false, wrap_y = false;
    int tiles_x = 0, tiles_y = 0;
    std::int64_t entries = 0;  // number of (tile, Gaussian) candidate pairs
    int device = -1;           // CUDA device holding the buffers
    void* stream = nullptr;    // cudaStream_t the forward ran on (frees are ordered on it)

    CudaBuffer geometry;          // float [6, N] SoA: mean x, mean y, w1, w2, cos(theta), sin(theta)
    CudaBuffer tile_offsets;      // int32 [tiles + 1] CSR offsets into tile_ids
    CudaBuffer tile_ids;          // int32 [entries] Gaussian index, increasing within each tile
    CudaBuffer gaussian_offsets;  // int64 [N + 1] CSR offsets into gaussian_slots
    CudaBuffer gaussian_slots;    // int32 [entries] for Gaussian i, the positions in tile_ids of
                                  //   its entries, in increasing tile order
    CudaBuffer selected;          // int32 [tiles, K, kTileTexels] local index into the tile's
                                  //   list of the k-th selected Gaussian ((q, i) order), -1 = none
    CudaBuffer weights;           // float [tiles, K, kTileTexels] G of that Gaussian, 0 where none

    // Frees every buffer and marks the state invalid.
    void reset() noexcept;
};

// Forward pass. g's arrays, `out` and background are device pointers on one
// device (the pass runs there); out: [H, W, C]. state == nullptr: inference
// (nothing kept); otherwise state is reset and filled for render_backward_cuda.
// stream: cudaStream_t (nullptr = the legacy default stream). The call
// synchronises with the stream once (to size the candidate lists); the render
// itself is left running asynchronously. s.threads is ignored. Throws
// texgs::Error for invalid sizes, K, C, null or host pointers, mixed devices,
// NaN/Inf parameters (naming the array and Gaussian) and CUDA failures.
void render_forward_cuda(const GaussianParams& g, const RenderSettings& s, float* out,
                         CudaForwardState* state, void* stream = nullptr);

// Backward pass: writes (does not accumulate) dL/d(params) into grads (device
// pointers, shapes as GaussianGrads). out: [H, W, C] the forward result;
// grad_out: [H, W, C] dL/dout. g and s must be the forward call's. Deterministic:
// the bytes written depend only on the inputs (fixed-order reductions, no float
// atomics). Asynchronous on `stream`; if it differs from state.stream the two
// streams are ordered with events.
void render_backward_cuda(const GaussianParams& g, const RenderSettings& s, const CudaForwardState& state,
                          const float* out, const float* grad_out, const GaussianGrads& grads,
                          void* stream = nullptr);

}  // namespace texgs
