// Allocation of the large per-texel arrays of a render (render.h): aligned
// (to 2 MiB from 2 MiB up) and recycled. A fit renders the same sizes every
// step (output, forward state, backward slots: tens of MB at 1024^2); fresh
// memory would be mapped, zeroed by the kernel and faulted in on every call,
// about 7-11 ms of CPU per 36 MB here, against 4 ms to write it. So freed
// blocks are kept (a few, bounded in bytes) and handed out again for requests
// of about their size. Blocks from 256 KiB up are recycled (a forward state's
// per-entry block sets are about 0.4 MB at 1024^2), those from 2 MiB up in whole huge
// pages. Contents are unspecified either way; every caller writes what it
// reads.
#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

#include "texgs/render.h"

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace texgs {

namespace {
constexpr size_t kHugePage = size_t(2) << 20;
constexpr size_t kPooled = size_t(256) << 10;     // smaller blocks: plain aligned_alloc, never kept
constexpr size_t kSmallStep = size_t(64) << 10;   // pooled blocks under kHugePage round up to this
constexpr size_t kIdleBytes = size_t(256) << 20;  // at most this much kept for reuse
constexpr size_t kIdleBlocks = 16;

struct Block {
    void* p;
    size_t bytes;  // rounded size
};

struct Pool {
    std::mutex mutex;
    std::vector<Block> live;  // huge-page blocks handed out
    std::vector<Block> idle;  // freed, oldest first
    size_t idle_bytes = 0;
};

Pool& pool() {
    static Pool* p = [] {
        Pool* made = new Pool;  // never destroyed: blocks may be freed during static destruction
        made->idle.reserve(kIdleBlocks + 1);
        return made;
    }();
    return *p;
}
}  // namespace

void* allocate_large(size_t bytes) {
    // Small blocks: plain cache-line-aligned memory, not kept.
    if (bytes < kPooled) {
        void* p = std::aligned_alloc(64, (std::max<size_t>(bytes, 1) + 63) / 64 * 64);
        if (!p) throw std::bad_alloc();
        return p;
    }
    const bool huge = bytes >= kHugePage;
    const size_t step = huge ? kHugePage : kSmallStep;
    const size_t rounded = (bytes + step - 1) / step * step;
    Pool& pl = pool();
    {
        std::lock_guard<std::mutex> lock(pl.mutex);
        // The smallest idle block that fits without wasting over a quarter.
        auto best = pl.idle.end();
        for (auto it = pl.idle.begin(); it != pl.idle.end(); ++it)
            if (it->bytes >= rounded && it->bytes <= rounded + rounded / 4 &&
                (best == pl.idle.end() || it->bytes < best->bytes))
                best = it;
        if (best != pl.idle.end()) {
            const Block b = *best;
            pl.idle.erase(best);
            pl.idle_bytes -= b.bytes;
            pl.live.push_back(b);
            return b.p;
        }
    }
    void* p = std::aligned_alloc(huge ? kHugePage : 64, rounded);
    if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // a hint: failure only costs speed
#endif
    try {
        std::lock_guard<std::mutex> lock(pl.mutex);
        pl.live.push_back({p, rounded});
    } catch (...) {
        std::free(p);
        throw;
    }
    return p;
}

void free_large(void* p) noexcept {
    if (!p) return;
    Pool& pl = pool();
    std::lock_guard<std::mutex> lock(pl.mutex);
    auto it = std::find_if(pl.live.begin(), pl.live.end(), [p](const Block& b) { return b.p == p; });
    if (it == pl.live.end()) {  // a small block
        std::free(p);
        return;
    }
    const Block b = *it;
    pl.live.erase(it);
    if (b.bytes > kIdleBytes) {
        std::free(b.p);
        return;
    }
    pl.idle.push_back(b);  // capacity reserved: never allocates
    pl.idle_bytes += b.bytes;
    while (pl.idle_bytes > kIdleBytes || pl.idle.size() > kIdleBlocks) {
        std::free(pl.idle.front().p);
        pl.idle_bytes -= pl.idle.front().bytes;
        pl.idle.erase(pl.idle.begin());
    }
}

}  // namespace texgs
