// CUDA renderer of the texgs image function (docs/IMAGE_FUNCTION.md); API in
// texgs/render_cuda.h, design notes in docs/cuda.md. Built with --fmad=false so
// dx, dy, u, v, q round exactly like the reference (no fused multiply-add).
//
// Forward: per-Gaussian preprocessing (finite checks, cos/sin, conservative
// tile box) -> per-tile candidate lists (scan, (tile, Gaussian) keys, radix
// sort) -> one block per tile, one thread per texel, candidates staged through
// shared memory, per-thread top-K. Backward: per tile, fixed-order block
// reductions of per-texel contributions into one slot per (tile, entry); then
// per Gaussian, its slots summed in tile order. No float atomics anywhere.

#include <cuda_runtime.h>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "check.cuh"
#include "pool.cuh"
#include "texgs/image_function.h"
#include "texgs/render_cuda.h"

namespace texgs {
namespace {

constexpr int kTileTexels = kTileSize * kTileSize;  // threads per block: one per texel of a tile
constexpr int kWarps = kTileTexels / 32;
constexpr int kGeomFields = 6;      // geometry SoA rows: mean x, mean y, w1, w2, cos, sin
constexpr int kScalarGrads = 5;     // per-Gaussian gradient components besides values:
                                    // mean x, mean y, w1, w2, theta
constexpr int kBackwardBatch = 16;  // tile entries reduced per shared-memory round in backward
constexpr int kBadFields = 5;       // finite checks: means, inv_scales, rotations, values, background
constexpr unsigned kFullMask = 0xffffffffu;
static_assert(kTileTexels % 32 == 0 && kTileTexels <= 1024, "a tile must be whole warps of one block");

// A CUDA event destroyed with its scope (no leak when a check throws).
struct ScopedEvent {
    cudaEvent_t event = nullptr;
    ScopedEvent() { check(cudaEventCreateWithFlags(&event, cudaEventDisableTiming), "cudaEventCreate"); }
    ~ScopedEvent() { cudaEventDestroy(event); }
    ScopedEvent(const ScopedEvent&) = delete;
    ScopedEvent& operator=(const ScopedEvent&) = delete;
};

// Makes `device` current for the scope, restoring the previous one after.
class DeviceGuard {
  public:
    explicit DeviceGuard(int device) {
        check(cudaGetDevice(&previous_), "cudaGetDevice");
        if (previous_ != device) check(cudaSetDevice(device), "cudaSetDevice");
    }
    ~DeviceGuard() {
        int now = -1;
        if (cudaGetDevice(&now) == cudaSuccess && now != previous_) cudaSetDevice(previous_);
    }
    DeviceGuard(const DeviceGuard&) = delete;
    DeviceGuard& operator=(const DeviceGuard&) = delete;

  private:
    int previous_ = 0;
};

// ------------------------------------------------------------- validation ---

// The device holding `ptr`; throws unless it is device (or managed) memory.
int device_of(const void* ptr, const char* name) {
    cudaPointerAttributes attr = {};
    cudaError_t e = cudaPointerGetAttributes(&attr, ptr);
    if (e != cudaSuccess) {
        cudaGetLastError();  // clear, so the error does not resurface in an unrelated call
        throw Error(std::string("CUDA is unavailable or ") + name +
                    " is not a valid pointer: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
    }
    if (attr.type != cudaMemoryTypeDevice && attr.type != cudaMemoryTypeManaged)
        throw Error(std::string(name) +
                    " is not CUDA device memory (host pointer given to the CUDA renderer)");
    return attr.device;
}

// All the given non-null pointers must live on one device; returns it.
int common_device(std::initializer_list<std::pair<const void*, const char*>> ptrs) {
    int device = -1;
    const char* first = nullptr;
    for (const auto& p : ptrs) {
        if (!p.first) continue;
        const int d = device_of(p.first, p.second);
        if (device < 0) {
            device = d;
            first = p.second;
        } else if (d != device) {
            throw Error(std::string(p.second) + " is on CUDA device " + std::to_string(d) + " but " + first +
                        " is on device " + std::to_string(device));
        }
    }
    return device;
}

// ----------------------------------------------------- the image function ---

// The per-Gaussian and per-texel maths (offset, q, the 3-sigma test, the
// weight, the gradient terms and the tile bound) is texgs/image_function.h,
// shared with the CPU renderer.

__device__ __forceinline__ int range_len(int first, int last) { return TileRange{first, last}.length(); }

// ------------------------------------------------------- forward kernels ---

constexpr unsigned long long kNoBad = ~0ull;

struct Info {                                  // results the host reads back once per forward
    unsigned long long first_bad[kBadFields];  // per field, lowest flat element index holding
                                               // NaN/Inf (kNoBad = none); atomicMin keeps it deterministic
    long long entries;                         // total (tile, Gaussian) pairs
};

__global__ void init_info_kernel(Info* info) {
    for (int f = 0; f < kBadFields; ++f) info->first_bad[f] = kNoBad;
    info->entries = 0;
}

__device__ __forceinline__ void flag_bad(Info* info, int field, unsigned long long element) {
    atomicMin(&info->first_bad[field], element);
}

struct PreprocessArgs {
    int n, channels;
    const float* means;       // [N, 2]
    const float* inv_scales;  // [N, 2]
    const float* rotations;   // [N]
    const float* values;      // [N, C]
    const float* background;  // [C]
    int width, height, tiles_x, tiles_y;
    bool wrap_x, wrap_y;
    float* geometry;    // out [6, N] SoA
    int* ranges;        // out [N, 8] tile ranges: x (a0, a1, b0, b1), y (a0, a1, b0, b1)
    long long* counts;  // out [N + 1] tiles per Gaussian, counts[N] = 0 (scan sentinel)
    Info* info;
};

// One thread per Gaussian (plus one for the scan sentinel).
__global__ void preprocess_kernel(PreprocessArgs a) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i == 0) {
        for (int c = 0; c < a.channels; ++c)
            if (!isfinite(a.background[c])) {
                flag_bad(a.info, 4, c);
                break;
            }
    }
    if (i > a.n) return;
    if (i == a.n) {
        a.counts[a.n] = 0;
        return;
    }
    const float mx = a.means[2 * i], my = a.means[2 * i + 1];
    const float w1 = a.inv_scales[2 * i], w2 = a.inv_scales[2 * i + 1];
    const float theta = a.rotations[i];
    const unsigned long long pair = 2ull * i;
    bool ok = true;
    if (!isfinite(mx) || !isfinite(my)) {
        flag_bad(a.info, 0, isfinite(mx) ? pair + 1 : pair);
        ok = false;
    }
    if (!isfinite(w1) || !isfinite(w2)) {
        flag_bad(a.info, 1, isfinite(w1) ? pair + 1 : pair);
        ok = false;
    }
    if (!isfinite(theta)) {
        flag_bad(a.info, 2, i);
        ok = false;
    }
    for (int c = 0; c < a.channels; ++c) {
        const size_t e = static_cast<size_t>(i) * a.channels + c;
        if (!isfinite(a.values[e])) {
            flag_bad(a.info, 3, e);
            ok = false;
            break;
        }
    }
    const float cs = ok ? cosf(theta) : 0.0f;
    const float sn = ok ? sinf(theta) : 0.0f;
    const size_t stride = static_cast<size_t>(a.n);
    a.geometry[0 * stride + i] = mx;
    a.geometry[1 * stride + i] = my;
    a.geometry[2 * stride + i] = w1;
    a.geometry[3 * stride + i] = w2;
    a.geometry[4 * stride + i] = cs;
    a.geometry[5 * stride + i] = sn;

    int* r = a.ranges + 8 * static_cast<size_t>(i);
    for (int f = 0; f < 8; ++f) r[f] = (f % 2 == 0) ? 0 : -1;
    if (!ok) {  // the host throws before anything reads this Gaussian
        a.counts[i] = 0;
        return;
    }
    // The conservative tile bound the CPU renderer uses too.
    const GaussianTiles reach = gaussian_tiles(mx, my, w1, w2, cs, sn, a.width, a.height, a.wrap_x, a.wrap_y);
    const AxisTiles* axes[2] = {&reach.x, &reach.y};
    for (int axis = 0; axis < 2; ++axis)
        for (int k = 0; k < 2; ++k) {
            r[4 * axis + 2 * k] = axes[axis]->range[k].lo;
            r[4 * axis + 2 * k + 1] = axes[axis]->range[k].hi;
        }
    a.counts[i] = reach.count();
}

// Copies the scan total into the info block (one D2H copy for everything).
__global__ void publish_total_kernel(const long long* offsets, int n, Info* info) {
    info->entries = offsets[n];
}

// One thread per (Gaussian, tile) entry, in Gaussian-major order: finds its
// Gaussian by binary search in the offsets and its tile from the ranges, in
// increasing tile order within a Gaussian.
struct FillKeysArgs {
    const long long* offsets;  // [N + 1] exclusive scan of the per-Gaussian tile counts
    const int* ranges;         // [N, 8] preprocess_kernel's tile ranges
    int n, tiles_x;
    int gaussian_bits;         // low bits of a key holding the Gaussian index
    long long entries;         // offsets[N]
    unsigned long long* keys;  // out [entries] tile << gaussian_bits | i
    int* positions;            // out [entries] e (the sort's payload)
};

__global__ void fill_keys_kernel(FillKeysArgs a) {
    const long long e = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (e >= a.entries) return;
    const long long* offsets = a.offsets;
    const int n = a.n;
    int lo = 0, hi = n;  // the last i with offsets[i] <= e (it has offsets[i + 1] > e)
    while (hi - lo > 1) {
        const int mid = lo + (hi - lo) / 2;
        if (offsets[mid] <= e)
            lo = mid;
        else
            hi = mid;
    }
    const int i = lo;
    const int* r = a.ranges + 8 * static_cast<size_t>(i);
    const int nxa = range_len(r[0], r[1]), nxb = range_len(r[2], r[3]);
    const int nya = range_len(r[4], r[5]);
    const int j = static_cast<int>(e - offsets[i]);
    const int nx = nxa + nxb;
    const int yj = j / nx, xj = j % nx;
    const int ty = yj < nya ? r[4] + yj : r[6] + (yj - nya);
    const int tx = xj < nxa ? r[0] + xj : r[2] + (xj - nxa);
    const unsigned long long tile = static_cast<unsigned long long>(ty) * a.tiles_x + tx;
    a.keys[e] = (tile << a.gaussian_bits) | static_cast<unsigned long long>(i);
    a.positions[e] = static_cast<int>(e);
}

// One thread per tile t in [0, tiles]: the tile's CSR offset, the first
// sorted entry whose tile is >= t (binary search; keys are sorted by tile).
struct TileOffsetsArgs {
    const unsigned long long* keys;  // [entries] sorted (FillKeysArgs::keys after the sort)
    int entries, tiles, gaussian_bits;
    int* tile_offsets;  // out [tiles + 1]
};

__global__ void tile_offsets_kernel(TileOffsetsArgs a) {
    const int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t > a.tiles) return;
    int lo = 0, hi = a.entries;
    while (lo < hi) {
        const int mid = lo + (hi - lo) / 2;
        if (static_cast<int>(a.keys[mid] >> a.gaussian_bits) < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    a.tile_offsets[t] = lo;
}

// One thread per sorted entry: its Gaussian id and (training) the Gaussian ->
// entry map, the inverse of the sort's permutation.
struct FinishEntriesArgs {
    const unsigned long long* keys;  // [entries] sorted
    const int* positions;            // [entries] each sorted entry's pre-sort position
    int entries, gaussian_bits;
    int* tile_ids;        // out [entries]
    int* gaussian_slots;  // out [entries], or null (inference)
};

__global__ void finish_entries_kernel(FinishEntriesArgs a) {
    const int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= a.entries) return;
    a.tile_ids[e] = static_cast<int>(a.keys[e] & ((1ull << a.gaussian_bits) - 1));
    if (a.gaussian_slots) a.gaussian_slots[a.positions[e]] = e;
}

struct RenderArgs {
    int n, channels, width, height, tiles_x;
    Wrap wrap;
    const float* geometry;    // [6, N]
    const int* tile_offsets;  // [tiles + 1]
    const int* tile_ids;      // [entries]
    const float* values;      // [N, C]
    const float* background;  // [C]
    float* out;               // [H, W, C]
    int* selected;            // [tiles, K, kTileTexels] or null (inference)
    float* weights;           // [tiles, K, kTileTexels] or null
};

// One block per tile, one thread per texel. K is a template argument so the
// per-thread top-K lives in registers (fully unrolled insertion).
template <int K>
__global__ void __launch_bounds__(kTileTexels) render_kernel(RenderArgs a) {
    __shared__ float s_geom[kGeomFields][kTileTexels];
    const int tile = blockIdx.x;
    const int t = threadIdx.x;
    const int col = (tile % a.tiles_x) * kTileSize + t % kTileSize;
    const int row = (tile / a.tiles_x) * kTileSize + t / kTileSize;
    const bool inside = col < a.width && row < a.height;
    const float px = static_cast<float>(col) + 0.5f;
    const float py = static_cast<float>(row) + 0.5f;
    const int begin = a.tile_offsets[tile];
    const int end = a.tile_offsets[tile + 1];

    // Selected so far, ascending in (q, local index); local indices ascend with
    // the Gaussian index because tile lists are sorted by it.
    float best_q[K];
    int best_j[K];
#pragma unroll
    for (int s = 0; s < K; ++s) {
        best_q[s] = __int_as_float(0x7f800000);
        best_j[s] = INT_MAX;
    }
    for (int base = begin; base < end; base += kTileTexels) {
        const int count = min(kTileTexels, end - base);
        __syncthreads();  // the previous batch is consumed
        if (t < count) {
            const int id = a.tile_ids[base + t];
#pragma unroll
            for (int f = 0; f < kGeomFields; ++f)
                s_geom[f][t] = a.geometry[static_cast<size_t>(f) * a.n + id];
        }
        __syncthreads();
        if (!inside) continue;
        for (int j = 0; j < count; ++j) {
            float u, v;
            frame_offset(px, py, s_geom[0][j], s_geom[1][j], s_geom[4][j], s_geom[5][j], a.wrap, u, v);
            const float q = quad_form(u, v, s_geom[2][j], s_geom[3][j]);
            // Equal q: the earlier (lower index) candidate already held wins.
            if (within_cutoff(q) && q < best_q[K - 1]) {
                float cq = q;
                int cj = base - begin + j;
#pragma unroll
                for (int s = 0; s < K; ++s) {
                    const bool before = cq < best_q[s] || (cq == best_q[s] && cj < best_j[s]);
                    const float tq = best_q[s];
                    const int tj = best_j[s];
                    best_q[s] = before ? cq : tq;
                    best_j[s] = before ? cj : tj;
                    cq = before ? tq : cq;
                    cj = before ? tj : cj;
                }
            }
        }
    }

    float weight[K];
    int gid[K];
    float sum = 0.0f;
#pragma unroll
    for (int s = 0; s < K; ++s) {
        const bool valid = inside && best_j[s] != INT_MAX;
        weight[s] = valid ? gaussian_weight(best_q[s]) : 0.0f;
        gid[s] = valid ? a.tile_ids[begin + best_j[s]] : -1;
        sum += weight[s];
        if (a.selected) {
            const size_t slot = (static_cast<size_t>(tile) * K + s) * kTileTexels + t;
            a.selected[slot] = valid ? best_j[s] : -1;
            a.weights[slot] = weight[s];
        }
    }
    if (!inside) return;
    float* o = a.out + (static_cast<size_t>(row) * a.width + col) * a.channels;
    if (gid[0] < 0) {  // no candidate: background
        for (int c = 0; c < a.channels; ++c) o[c] = a.background[c];
        return;
    }
    for (int c = 0; c < a.channels; ++c) {
        float acc = 0.0f;
#pragma unroll
        for (int s = 0; s < K; ++s)
            if (gid[s] >= 0) acc += weight[s] * a.values[static_cast<size_t>(gid[s]) * a.channels + c];
        o[c] = acc / sum;
    }
}

template <int K>
void launch_render(const RenderArgs& args, int tiles, cudaStream_t stream) {
    render_kernel<K><<<tiles, kTileTexels, 0, stream>>>(args);
}

void launch_render_k(int k, const RenderArgs& args, int tiles, cudaStream_t stream) {
    switch (k) {
        case 1:
            launch_render<1>(args, tiles, stream);
            break;
        case 2:
            launch_render<2>(args, tiles, stream);
            break;
        case 3:
            launch_render<3>(args, tiles, stream);
            break;
        case 4:
            launch_render<4>(args, tiles, stream);
            break;
        case 5:
            launch_render<5>(args, tiles, stream);
            break;
        case 6:
            launch_render<6>(args, tiles, stream);
            break;
        case 7:
            launch_render<7>(args, tiles, stream);
            break;
        case 8:
            launch_render<8>(args, tiles, stream);
            break;
        case 9:
            launch_render<9>(args, tiles, stream);
            break;
        case 10:
            launch_render<10>(args, tiles, stream);
            break;
        case 11:
            launch_render<11>(args, tiles, stream);
            break;
        case 12:
            launch_render<12>(args, tiles, stream);
            break;
        case 13:
            launch_render<13>(args, tiles, stream);
            break;
        case 14:
            launch_render<14>(args, tiles, stream);
            break;
        case 15:
            launch_render<15>(args, tiles, stream);
            break;
        case 16:
            launch_render<16>(args, tiles, stream);
            break;
        default:
            throw Error("K must be in 1.." + std::to_string(kMaxK) + ", got " + std::to_string(k));
    }
    static_assert(kMaxK == 16, "launch_render_k lists every K up to kMaxK");
    check_launch("render_kernel");
}

// ------------------------------------------------------ backward kernels ---

struct BackwardArgs {
    int n, channels, width, height, tiles_x, k;
    Wrap wrap;
    const float* geometry;    // [6, N]
    const int* tile_offsets;  // [tiles + 1]
    const int* tile_ids;      // [entries]
    const int* selected;      // [tiles, K, kTileTexels]
    const float* weights;     // [tiles, K, kTileTexels]
    const float* values;      // [N, C]
    const float* out;         // [H, W, C]
    const float* grad_out;    // [H, W, C]
    float* slot_grads;        // out [entries, 5 + C]: per (tile, entry) sums over the tile's texels
};

// Fixed-order warp sum (tree over lanes); the result is valid in lane 0.
__device__ __forceinline__ float warp_sum(float x) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) x += __shfl_down_sync(kFullMask, x, offset);
    return x;
}

// One block per tile, one thread per texel. For each entry of the tile's list,
// every warp sums its texels' contributions (shuffle tree), then the warps'
// partial sums are added in warp order: a fixed order, independent of timing.
__global__ void __launch_bounds__(kTileTexels) backward_tile_kernel(BackwardArgs a) {
    extern __shared__ float s_part[];  // [kWarps, kBackwardBatch, 5 + C]
    const int tile = blockIdx.x;
    const int begin = a.tile_offsets[tile];
    const int count = a.tile_offsets[tile + 1] - begin;
    if (count == 0) return;  // uniform across the block
    const int t = threadIdx.x;
    const int lane = t % 32, warp = t / 32;
    const int col = (tile % a.tiles_x) * kTileSize + t % kTileSize;
    const int row = (tile / a.tiles_x) * kTileSize + t / kTileSize;
    const bool inside = col < a.width && row < a.height;
    const int comps = kScalarGrads + a.channels;
    const size_t texel = inside ? static_cast<size_t>(row) * a.width + col : 0;
    const float* g = a.grad_out + texel * a.channels;
    const float* o = a.out + texel * a.channels;

    // This texel's selections: local entry index, G/S and dL/dq.
    int sel[kMaxK];
    float share[kMaxK];
    float dl_dq[kMaxK];
    float sum = 0.0f;
    for (int s = 0; s < a.k; ++s) {
        const size_t slot = (static_cast<size_t>(tile) * a.k + s) * kTileTexels + t;
        sel[s] = inside ? a.selected[slot] : -1;
        share[s] = inside ? a.weights[slot] : 0.0f;
        sum += share[s];  // the forward's order, so S is the forward's S
    }
    float grad_dot_out = 0.0f;  // sum_c dL/dout_c out_c
    if (inside)
        for (int c = 0; c < a.channels; ++c) grad_dot_out += g[c] * o[c];
    for (int s = 0; s < a.k; ++s) {
        dl_dq[s] = 0.0f;
        if (sel[s] < 0) continue;
        const float* val = a.values + static_cast<size_t>(a.tile_ids[begin + sel[s]]) * a.channels;
        float grad_dot_value = 0.0f;
        for (int c = 0; c < a.channels; ++c) grad_dot_value += g[c] * val[c];
        dl_dq[s] = dloss_dq(share[s], dloss_dweight(grad_dot_value, grad_dot_out, sum));
        share[s] = share[s] / sum;
    }

    for (int b0 = 0; b0 < count; b0 += kBackwardBatch) {
        const int nb = min(kBackwardBatch, count - b0);
        for (int e = 0; e < nb; ++e) {
            const int j = b0 + e;
            int found = -1;
            for (int s = 0; s < a.k; ++s)
                if (sel[s] == j) found = s;
            float* part = s_part + (static_cast<size_t>(warp) * kBackwardBatch + e) * comps;
            if (!__any_sync(kFullMask, found >= 0)) {
                for (int c = lane; c < comps; c += 32) part[c] = 0.0f;
                continue;
            }
            float grad[kScalarGrads] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
            if (found >= 0) {
                const int id = a.tile_ids[begin + j];
                const float mx = a.geometry[0 * static_cast<size_t>(a.n) + id];
                const float my = a.geometry[1 * static_cast<size_t>(a.n) + id];
                const float w1 = a.geometry[2 * static_cast<size_t>(a.n) + id];
                const float w2 = a.geometry[3 * static_cast<size_t>(a.n) + id];
                const float cs = a.geometry[4 * static_cast<size_t>(a.n) + id];
                const float sn = a.geometry[5 * static_cast<size_t>(a.n) + id];
                float u, v;
                frame_offset(static_cast<float>(col) + 0.5f, static_cast<float>(row) + 0.5f, mx, my, cs, sn,
                             a.wrap, u, v);
                const ShapeGrads<float> d = shape_grads(u, v, cs, sn, w1, w2, dl_dq[found]);
                grad[0] = d.mean_x;
                grad[1] = d.mean_y;
                grad[2] = d.w1;
                grad[3] = d.w2;
                grad[4] = d.theta;
            }
#pragma unroll
            for (int f = 0; f < kScalarGrads; ++f) {
                const float total = warp_sum(grad[f]);
                if (lane == 0) part[f] = total;
            }
            const float w = found >= 0 ? share[found] : 0.0f;
            for (int c = 0; c < a.channels; ++c) {
                const float total = warp_sum(found >= 0 ? g[c] * w : 0.0f);
                if (lane == 0) part[kScalarGrads + c] = total;
            }
        }
        __syncthreads();
        for (int x = t; x < nb * comps; x += kTileTexels) {
            const int e = x / comps, f = x % comps;
            float acc = 0.0f;
            for (int w = 0; w < kWarps; ++w)
                acc += s_part[(static_cast<size_t>(w) * kBackwardBatch + e) * comps + f];
            a.slot_grads[static_cast<size_t>(begin + b0 + e) * comps + f] = acc;
        }
        __syncthreads();  // s_part is reused by the next batch
    }
}

// One thread per (Gaussian, component): the Gaussian's slots summed in
// increasing tile order, written to the gradient arrays.
struct GatherArgs {
    int n, channels;
    const long long* gaussian_offsets;  // [N + 1] CSR offsets into gaussian_slots
    const int* gaussian_slots;          // [entries] each Gaussian's entries, in tile order
    const float* slot_grads;            // [entries, 5 + C] backward_tile_kernel's per-entry sums
    GaussianGrads grads;                // out: means [N, 2], inv_scales [N, 2], rotations [N], values [N, C]
};

__global__ void gather_grads_kernel(GatherArgs a) {
    const int comps = kScalarGrads + a.channels;
    const long long x = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (x >= static_cast<long long>(a.n) * comps) return;
    const int i = static_cast<int>(x / comps), f = static_cast<int>(x % comps);
    float acc = 0.0f;
    for (long long p = a.gaussian_offsets[i]; p < a.gaussian_offsets[i + 1]; ++p)
        acc += a.slot_grads[static_cast<size_t>(a.gaussian_slots[p]) * comps + f];
    if (f < 2)
        a.grads.means[2 * static_cast<size_t>(i) + f] = acc;
    else if (f < 4)
        a.grads.inv_scales[2 * static_cast<size_t>(i) + (f - 2)] = acc;
    else if (f == 4)
        a.grads.rotations[i] = acc;
    else
        a.grads.values[static_cast<size_t>(i) * a.channels + (f - kScalarGrads)] = acc;
}

// ------------------------------------------------------------ host side ---

int bits_for(long long count) {  // bits needed to store 0..count-1, at least 1
    int bits = 1;
    while (bits < 63 && (1ll << bits) < count) ++bits;
    return bits;
}

unsigned blocks_for(long long threads, int per_block) {
    return static_cast<unsigned>((threads + per_block - 1) / per_block);
}

// Everything the forward pass builds; moved into CudaForwardState for training.
struct TileBuild {
    int tiles_x = 0, tiles_y = 0, tiles = 0;
    long long entries = 0;
    CudaBuffer geometry, tile_offsets, tile_ids, gaussian_offsets, gaussian_slots;
};

// Throws the CPU path's message for the first non-finite element found on
// the device: "values[3, 1] is NaN; every parameter must be finite".
void throw_non_finite(const GaussianParams& g, const Info& info, cudaStream_t stream) {
    const char* const names[kBadFields] = {"means", "inv_scales", "rotations", "values", "background"};
    const float* arrays[kBadFields] = {g.means, g.inv_scales, g.rotations, g.values, g.background};
    const int row_lengths[kBadFields] = {2, 2, 1, g.channels, 1};
    for (int f = 0; f < kBadFields; ++f) {
        const unsigned long long e = info.first_bad[f];
        if (e == kNoBad) continue;
        float value = 0.0f;
        check(cudaMemcpyAsync(&value, arrays[f] + e, sizeof(float), cudaMemcpyDeviceToHost, stream),
              "reading back a non-finite parameter");
        check(cudaStreamSynchronize(stream), "reading back a non-finite parameter");
        const int row = row_lengths[f];
        const std::string where = row > 1
                                      ? "[" + std::to_string(e / row) + ", " + std::to_string(e % row) + "]"
                                      : "[" + std::to_string(e) + "]";
        throw Error(std::string(names[f]) + where + " is " + (std::isnan(value) ? "NaN" : "infinite") +
                    "; every parameter must be finite");
    }
}

// Validates the parameters on the device and builds the tile lists. Throws.
TileBuild build_tiles(const GaussianParams& g, const RenderSettings& s, int device, cudaStream_t stream,
                      bool for_backward) {
    TileBuild b;
    b.tiles_x = (s.width + kTileSize - 1) / kTileSize;
    b.tiles_y = (s.height + kTileSize - 1) / kTileSize;
    b.tiles = b.tiles_x * b.tiles_y;
    void* st = stream;
    b.tile_offsets.allocate(sizeof(int) * (static_cast<size_t>(b.tiles) + 1), device, st);
    const int n = g.n;

    CudaBuffer info, counts, offsets, ranges;
    info.allocate(sizeof(Info), device, st);
    init_info_kernel<<<1, 1, 0, stream>>>(info.as<Info>());
    check_launch("init_info_kernel");
    b.geometry.allocate(sizeof(float) * kGeomFields * static_cast<size_t>(n), device, st);
    counts.allocate(sizeof(long long) * (static_cast<size_t>(n) + 1), device, st);
    offsets.allocate(sizeof(long long) * (static_cast<size_t>(n) + 1), device, st);
    ranges.allocate(sizeof(int) * 8 * static_cast<size_t>(n), device, st);

    PreprocessArgs pa = {n,
                         g.channels,
                         g.means,
                         g.inv_scales,
                         g.rotations,
                         g.values,
                         g.background,
                         s.width,
                         s.height,
                         b.tiles_x,
                         b.tiles_y,
                         s.wrap_x,
                         s.wrap_y,
                         b.geometry.as<float>(),
                         ranges.as<int>(),
                         counts.as<long long>(),
                         info.as<Info>()};
    preprocess_kernel<<<blocks_for(static_cast<long long>(n) + 1, 256), 256, 0, stream>>>(pa);
    check_launch("preprocess_kernel");
    size_t scan_bytes = 0;
    check(cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, counts.as<long long>(), offsets.as<long long>(),
                                        n + 1, stream),
          "sizing the tile-count scan");
    CudaBuffer scan_temp;  // never null: a null temp pointer means "size query" to cub
    scan_temp.allocate(std::max<size_t>(scan_bytes, 16), device, st);
    check(cub::DeviceScan::ExclusiveSum(scan_temp.data(), scan_bytes, counts.as<long long>(),
                                        offsets.as<long long>(), n + 1, stream),
          "the tile-count scan");
    publish_total_kernel<<<1, 1, 0, stream>>>(offsets.as<long long>(), n, info.as<Info>());
    check_launch("publish_total_kernel");

    Info host = {};
    check(cudaMemcpyAsync(&host, info.data(), sizeof(Info), cudaMemcpyDeviceToHost, stream),
          "reading back the candidate count");
    check(cudaStreamSynchronize(stream), "the candidate-list pass (preprocess and scan)");
    throw_non_finite(g, host, stream);
    if (host.entries > INT_MAX)
        throw Error("too many (tile, Gaussian) candidate pairs for the CUDA renderer: " +
                    std::to_string(host.entries) + " > " + std::to_string(INT_MAX) +
                    " (too many or too large Gaussians for this image size)");
    b.entries = host.entries;
    const int entries = static_cast<int>(b.entries);

    const int gaussian_bits = bits_for(n);
    const int end_bit = gaussian_bits + bits_for(b.tiles);
    CudaBuffer keys_in, keys_out, pos_in, pos_out;
    if (entries > 0) {
        keys_in.allocate(sizeof(unsigned long long) * entries, device, st);
        keys_out.allocate(sizeof(unsigned long long) * entries, device, st);
        pos_in.allocate(sizeof(int) * entries, device, st);
        pos_out.allocate(sizeof(int) * entries, device, st);
        const FillKeysArgs fill = {
            offsets.as<long long>(),          ranges.as<int>(), n, b.tiles_x, gaussian_bits, entries,
            keys_in.as<unsigned long long>(), pos_in.as<int>()};
        fill_keys_kernel<<<blocks_for(entries, 256), 256, 0, stream>>>(fill);
        check_launch("fill_keys_kernel");
        // Keys are unique, so the sorted order (tile, then Gaussian) is fully determined.
        size_t sort_bytes = 0;
        check(cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys_in.as<unsigned long long>(),
                                              keys_out.as<unsigned long long>(), pos_in.as<int>(),
                                              pos_out.as<int>(), entries, 0, end_bit, stream),
              "sizing the tile sort");
        CudaBuffer sort_temp;
        sort_temp.allocate(std::max<size_t>(sort_bytes, 16), device, st);
        check(cub::DeviceRadixSort::SortPairs(sort_temp.data(), sort_bytes, keys_in.as<unsigned long long>(),
                                              keys_out.as<unsigned long long>(), pos_in.as<int>(),
                                              pos_out.as<int>(), entries, 0, end_bit, stream),
              "the tile sort");
        b.tile_ids.allocate(sizeof(int) * static_cast<size_t>(entries), device, st);
        if (for_backward) b.gaussian_slots.allocate(sizeof(int) * static_cast<size_t>(entries), device, st);
    }
    const TileOffsetsArgs tile_offsets = {keys_out.as<unsigned long long>(), entries, b.tiles, gaussian_bits,
                                          b.tile_offsets.as<int>()};
    tile_offsets_kernel<<<blocks_for(static_cast<long long>(b.tiles) + 1, 256), 256, 0, stream>>>(
        tile_offsets);
    check_launch("tile_offsets_kernel");
    if (entries > 0) {
        const FinishEntriesArgs finish = {keys_out.as<unsigned long long>(),
                                          pos_out.as<int>(),
                                          entries,
                                          gaussian_bits,
                                          b.tile_ids.as<int>(),
                                          b.gaussian_slots.as<int>()};
        finish_entries_kernel<<<blocks_for(entries, 256), 256, 0, stream>>>(finish);
        check_launch("finish_entries_kernel");
    }
    if (for_backward) b.gaussian_offsets = std::move(offsets);
    return b;
}

cudaStream_t as_stream(void* s) { return static_cast<cudaStream_t>(s); }

}  // namespace

// ------------------------------------------------------------ public API ---

int cuda_device_count() noexcept {
    int count = 0;
    if (cudaGetDeviceCount(&count) != cudaSuccess) {
        cudaGetLastError();  // no driver / no device: not an error for a query
        return 0;
    }
    return count;
}

bool cuda_runtime_available() noexcept { return cuda_device_count() > 0; }

void cuda_release_cached_memory() noexcept { trim_pools(); }

CudaBuffer::~CudaBuffer() { release(); }

CudaBuffer::CudaBuffer(CudaBuffer&& other) noexcept { *this = std::move(other); }

CudaBuffer& CudaBuffer::operator=(CudaBuffer&& other) noexcept {
    if (this != &other) {
        release();
        ptr_ = std::exchange(other.ptr_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
        device_ = std::exchange(other.device_, -1);
        stream_ = std::exchange(other.stream_, nullptr);
        pooled_ = std::exchange(other.pooled_, false);
    }
    return *this;
}

void CudaBuffer::allocate(std::size_t bytes, int device, void* stream) {
    release();
    if (bytes == 0) return;
    bool pooled = false;
    ptr_ = device_allocate(bytes, device, as_stream(stream), pooled);
    bytes_ = bytes;
    device_ = device;
    stream_ = stream;
    pooled_ = pooled;
}

void CudaBuffer::release() noexcept {
    if (!ptr_) return;
    device_free(ptr_, device_, as_stream(stream_), pooled_);
    ptr_ = nullptr;
    bytes_ = 0;
}

void CudaForwardState::reset() noexcept {
    valid = false;
    geometry.release();
    tile_offsets.release();
    tile_ids.release();
    gaussian_offsets.release();
    gaussian_slots.release();
    selected.release();
    weights.release();
    entries = 0;
}

void render_forward_cuda(const GaussianParams& g, const RenderSettings& s, float* out,
                         CudaForwardState* state, void* stream_handle) {
    validate_request(g, s);  // sizes, K, C, pointers (the data is checked on the device)
    if (!out) throw Error("out is a null pointer");
    const int device = common_device({{g.background, "background"},
                                      {out, "out"},
                                      {g.means, "means"},
                                      {g.inv_scales, "inv_scales"},
                                      {g.rotations, "rotations"},
                                      {g.values, "values"}});
    DeviceGuard guard(device);
    cudaStream_t stream = as_stream(stream_handle);
    if (state) state->reset();

    TileBuild b = build_tiles(g, s, device, stream, state != nullptr);
    CudaBuffer selected, weights;
    if (state) {
        const size_t slots = static_cast<size_t>(b.tiles) * s.k * kTileTexels;
        selected.allocate(sizeof(int) * slots, device, stream_handle);
        weights.allocate(sizeof(float) * slots, device, stream_handle);
    }
    const Wrap wrap = {s.wrap_x, s.wrap_y, static_cast<float>(s.width), static_cast<float>(s.height)};
    const RenderArgs args = {g.n,
                             g.channels,
                             s.width,
                             s.height,
                             b.tiles_x,
                             wrap,
                             b.geometry.as<float>(),
                             b.tile_offsets.as<int>(),
                             b.tile_ids.as<int>(),
                             g.values,
                             g.background,
                             out,
                             selected.as<int>(),
                             weights.as<float>()};
    launch_render_k(s.k, args, b.tiles, stream);

    if (state) {
        state->n = g.n;
        state->channels = g.channels;
        state->height = s.height;
        state->width = s.width;
        state->k = s.k;
        state->wrap_x = s.wrap_x;
        state->wrap_y = s.wrap_y;
        state->tiles_x = b.tiles_x;
        state->tiles_y = b.tiles_y;
        state->entries = b.entries;
        state->device = device;
        state->stream = stream_handle;
        state->geometry = std::move(b.geometry);
        state->tile_offsets = std::move(b.tile_offsets);
        state->tile_ids = std::move(b.tile_ids);
        state->gaussian_offsets = std::move(b.gaussian_offsets);
        state->gaussian_slots = std::move(b.gaussian_slots);
        state->selected = std::move(selected);
        state->weights = std::move(weights);
        state->valid = true;
    }
}

void render_backward_cuda(const GaussianParams& g, const RenderSettings& s, const CudaForwardState& state,
                          const float* out, const float* grad_out, const GaussianGrads& grads,
                          void* stream_handle) {
    validate_request(g, s);  // sizes, K, C, pointers (the data is checked on the device)
    if (!state.valid)
        throw Error("render_backward_cuda needs the state of a completed training forward pass");
    if (state.n != g.n || state.channels != g.channels || state.height != s.height ||
        state.width != s.width || state.k != s.k || state.wrap_x != s.wrap_x || state.wrap_y != s.wrap_y)
        throw Error("render_backward_cuda: parameters or settings differ from the forward pass");
    if (!out || !grad_out) throw Error("out and grad_out must be non-null");
    if (g.n > 0 && (!grads.means || !grads.inv_scales || !grads.rotations || !grads.values))
        throw Error("every gradient array must be non-null when N > 0");
    const int device = common_device({{out, "out"},
                                      {grad_out, "grad_out"},
                                      {g.values, "values"},
                                      {grads.means, "grad means"},
                                      {grads.inv_scales, "grad inv_scales"},
                                      {grads.rotations, "grad rotations"},
                                      {grads.values, "grad values"}});
    if (device != state.device)
        throw Error("render_backward_cuda: arrays are on CUDA device " + std::to_string(device) +
                    " but the forward pass ran on device " + std::to_string(state.device));
    if (g.n == 0) return;  // no Gaussians, nothing to write
    DeviceGuard guard(device);
    cudaStream_t stream = as_stream(stream_handle);
    cudaStream_t forward_stream = as_stream(state.stream);

    // Order this stream after the forward's, if they differ.
    const bool other_stream = stream != forward_stream;
    if (other_stream) {
        ScopedEvent forward_done;
        check(cudaEventRecord(forward_done.event, forward_stream), "cudaEventRecord");
        check(cudaStreamWaitEvent(stream, forward_done.event, 0), "cudaStreamWaitEvent");
    }

    const int comps = kScalarGrads + g.channels;
    const int tiles = state.tiles_x * state.tiles_y;
    CudaBuffer slot_grads;
    slot_grads.allocate(sizeof(float) * static_cast<size_t>(state.entries) * comps, device, stream_handle);
    if (state.entries > 0) {
        const Wrap wrap = {s.wrap_x, s.wrap_y, static_cast<float>(s.width), static_cast<float>(s.height)};
        const BackwardArgs args = {g.n,
                                   g.channels,
                                   s.width,
                                   s.height,
                                   state.tiles_x,
                                   s.k,
                                   wrap,
                                   state.geometry.as<float>(),
                                   state.tile_offsets.as<int>(),
                                   state.tile_ids.as<int>(),
                                   state.selected.as<int>(),
                                   state.weights.as<float>(),
                                   g.values,
                                   out,
                                   grad_out,
                                   slot_grads.as<float>()};
        const size_t shared = sizeof(float) * kWarps * kBackwardBatch * comps;
        backward_tile_kernel<<<tiles, kTileTexels, shared, stream>>>(args);
        check_launch("backward_tile_kernel");
    }
    const GatherArgs gather = {g.n,
                               g.channels,
                               state.gaussian_offsets.as<long long>(),
                               state.gaussian_slots.as<int>(),
                               slot_grads.as<float>(),
                               grads};
    gather_grads_kernel<<<blocks_for(static_cast<long long>(g.n) * comps, 256), 256, 0, stream>>>(gather);
    check_launch("gather_grads_kernel");

    if (other_stream) {
        // The state's buffers are freed on the forward stream: order that after this pass.
        ScopedEvent backward_done;
        check(cudaEventRecord(backward_done.event, stream), "cudaEventRecord");
        check(cudaStreamWaitEvent(forward_stream, backward_done.event, 0), "cudaStreamWaitEvent");
    }
}

}  // namespace texgs
