// Device memory of the CUDA renderer: one stream-ordered memory pool per
// device (allocate, free, trim), apart from the kernels. Included by the CUDA
// renderer's translation unit only (internal linkage); CudaBuffer
// (texgs/render_cuda.h) allocates through it.
#pragma once

#include <cuda_runtime.h>

#include <climits>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "check.cuh"

namespace texgs {
namespace {

// One stream-ordered pool per device with an unlimited release threshold: the
// memory of a finished render stays cached for the next one instead of going
// back to the driver at every synchronisation (cuda_release_cached_memory trims).
struct DevicePool {
    bool initialised = false;
    cudaMemPool_t pool = nullptr;  // null: device without memory pools -> plain cudaMalloc
};
std::mutex g_pools_mutex;
std::vector<DevicePool> g_pools;

cudaMemPool_t pool_for(int device) {
    std::lock_guard<std::mutex> lock(g_pools_mutex);
    if (device >= static_cast<int>(g_pools.size())) g_pools.resize(device + 1);
    DevicePool& p = g_pools[device];
    if (!p.initialised) {
        int supported = 0;
        check(cudaDeviceGetAttribute(&supported, cudaDevAttrMemoryPoolsSupported, device),
              "querying memory-pool support");
        if (supported) {
            cudaMemPoolProps props = {};
            props.allocType = cudaMemAllocationTypePinned;
            props.handleTypes = cudaMemHandleTypeNone;
            props.location.type = cudaMemLocationTypeDevice;
            props.location.id = device;
            check(cudaMemPoolCreate(&p.pool, &props), "creating a memory pool");
            std::uint64_t keep_all = UINT64_MAX;
            check(cudaMemPoolSetAttribute(p.pool, cudaMemPoolAttrReleaseThreshold, &keep_all),
                  "configuring a memory pool");
        }
        p.initialised = true;
    }
    return p.pool;
}

// Trims every pool to nothing (cuda_release_cached_memory).
void trim_pools() noexcept {
    std::lock_guard<std::mutex> lock(g_pools_mutex);
    for (DevicePool& p : g_pools)
        if (p.pool) cudaMemPoolTrimTo(p.pool, 0);
}

// `bytes` (> 0) of memory on `device`, stream-ordered on `stream` when the
// device has pools (pooled = true), else from cudaMalloc. Throws on failure.
void* device_allocate(std::size_t bytes, int device, cudaStream_t stream, bool& pooled) {
    cudaMemPool_t pool = pool_for(device);
    void* p = nullptr;
    if (pool) {
        check(cudaMallocFromPoolAsync(&p, bytes, pool, stream),
              ("allocating " + std::to_string(bytes) + " bytes of device memory").c_str());
    } else {
        check(cudaMalloc(&p, bytes),
              ("allocating " + std::to_string(bytes) + " bytes of device memory").c_str());
    }
    pooled = pool != nullptr;
    return p;
}

// Frees what device_allocate returned. Errors are ignored: a destructor cannot
// report them, and at process exit the driver may already be gone (it then
// reclaims the memory itself).
void device_free(void* ptr, int device, cudaStream_t stream, bool pooled) noexcept {
    int previous = -1;
    const bool switched =
        cudaGetDevice(&previous) == cudaSuccess && previous != device && cudaSetDevice(device) == cudaSuccess;
    if (pooled)
        cudaFreeAsync(ptr, stream);
    else
        cudaFree(ptr);
    if (switched) cudaSetDevice(previous);
    cudaGetLastError();
}

}  // namespace
}  // namespace texgs
