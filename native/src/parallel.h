// A tiny std::thread parallel_for. Work items are handed out through an atomic
// counter, so which thread runs an item varies between runs; callers keep
// results deterministic by making every item write only its own outputs.
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace texgs {

// Threads to use for a setting: 0 = every hardware thread.
inline int resolve_threads(int requested) {
    if (requested > 0) return requested;
    unsigned hw = std::thread::hardware_concurrency();
    return hw > 0 ? static_cast<int>(hw) : 1;
}

// Calls fn(item, worker) for item in [0, count) on up to `threads` workers;
// worker in [0, threads) indexes per-worker scratch. The first exception thrown
// by any item is rethrown here after all workers stop (never std::terminate).
template <class Fn>
void parallel_for(int count, int threads, Fn&& fn) {
    const int workers = std::max(1, std::min(threads, count));
    if (workers == 1) {
        for (int i = 0; i < count; ++i) fn(i, 0);
        return;
    }
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&](int worker) {
        try {
            for (int i = next.fetch_add(1); i < count && !failed.load(); i = next.fetch_add(1)) fn(i, worker);
        } catch (...) {
            std::lock_guard<std::mutex> lock(error_mutex);
            if (!error) error = std::current_exception();
            failed = true;
        }
    };
    std::vector<std::thread> pool;
    pool.reserve(workers - 1);
    for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
    work(0);
    for (auto& t : pool) t.join();
    if (error) std::rethrow_exception(error);
}

}  // namespace texgs
