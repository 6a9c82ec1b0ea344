// Error checks of CUDA runtime calls: a failed call throws texgs::Error naming
// what was being done (native code raises, never aborts). Included by the CUDA
// renderer's translation unit only (internal linkage).
#pragma once

#include <cuda_runtime.h>

#include <string>

#include "texgs/render_cuda.h"

namespace texgs {
namespace {

[[noreturn]] void throw_cuda(cudaError_t e, const char* what) {
    throw Error(std::string("CUDA error during ") + what + ": " + cudaGetErrorName(e) + ": " +
                cudaGetErrorString(e));
}

void check(cudaError_t e, const char* what) {
    if (e != cudaSuccess) throw_cuda(e, what);
}

// Kernel launches report configuration errors through cudaGetLastError.
void check_launch(const char* kernel) { check(cudaGetLastError(), kernel); }

}  // namespace
}  // namespace texgs
