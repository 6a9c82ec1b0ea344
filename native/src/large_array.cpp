// Allocation of the large per-texel arrays of a forward state (render.h).
#include <algorithm>
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
    // Under one huge page: plain cache-line-aligned memory, no rounding up to 2 MiB.
    const size_t align = bytes >= kHugePage ? kHugePage : 64;
    const size_t rounded = (std::max<size_t>(bytes, 1) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (align == kHugePage) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
    return p;
}

void free_large(void* p) noexcept { std::free(p); }

}  // namespace texgs
