// Allocation of the large per-texel arrays of a forward state (render.h).
#include <cstdlib>
#include <new>

#include "texgs/render.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace texgs {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
}

void* allocate_large(size_t bytes) {
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    void* p = std::aligned_alloc(kHugePage, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
    return p;
}

void free_large(void* p) noexcept { std::free(p); }

}  // namespace texgs
