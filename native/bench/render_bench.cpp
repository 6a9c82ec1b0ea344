// Timing harness of the CPU renderer, no Python: reads one workload file
// (written by benchmarks/render_bench.py), runs `repeat` rounds of one
// inference forward and one forward + backward through the plain C++ API of
// texgs/render.h, and prints the wall and process CPU milliseconds of each
// call as JSON. It uses only that API, so the same file builds against the
// renderer sources of older commits (benchmarks/render_bench.py compares them).
//
//   render_bench WORKLOAD [--repeat R] [--threads T] [--no-warm] [--split] [--dump OUT]
//
// --split also times, per round, one forward with state and the backward
// after it separately (keys forward_state_* and backward_*).
// --dump writes the last output and gradients (float32, in the order out,
// d means, d inv_scales, d rotations, d values) for a parity check.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "texgs/render.h"

namespace {

// Workload file: "TXGSBNCH", int32 version (1), n, channels, height, width, k,
// wrap_x, wrap_y, then float32 means [n, 2], inv_scales [n, 2], rotations [n],
// values [n, C], background [C], grad_out [H, W, C].
struct Workload {
    int32_t n = 0, channels = 0, height = 0, width = 0, k = 0, wrap_x = 0, wrap_y = 0;
    std::vector<float> means, inv_scales, rotations, values, background, grad_out;
};

void read_exact(FILE* f, void* p, size_t bytes, const char* path) {
    if (std::fread(p, 1, bytes, f) != bytes)
        throw std::runtime_error(std::string(path) + ": truncated workload");
}

Workload read_workload(const char* path) {
    FILE* f = std::fopen(path, "rb");
    if (!f) throw std::runtime_error(std::string(path) + ": cannot open");
    Workload w;
    char magic[8];
    int32_t header[8];
    read_exact(f, magic, sizeof(magic), path);
    read_exact(f, header, sizeof(header), path);
    if (std::memcmp(magic, "TXGSBNCH", 8) != 0 || header[0] != 1)
        throw std::runtime_error(std::string(path) + ": not a version 1 render workload");
    w.n = header[1];
    w.channels = header[2];
    w.height = header[3];
    w.width = header[4];
    w.k = header[5];
    w.wrap_x = header[6];
    w.wrap_y = header[7];
    auto load = [&](std::vector<float>& v, size_t count) {
        v.resize(count);
        read_exact(f, v.data(), count * sizeof(float), path);
    };
    const size_t n = size_t(w.n), c = size_t(w.channels);
    load(w.means, 2 * n);
    load(w.inv_scales, 2 * n);
    load(w.rotations, n);
    load(w.values, n * c);
    load(w.background, c);
    load(w.grad_out, size_t(w.height) * w.width * c);
    std::fclose(f);
    return w;
}

double now_ms(clockid_t clock) {
    timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e3 + t.tv_nsec * 1e-6;
}

struct Times {
    std::vector<double> wall, cpu;
};

template <class Fn>
void timed(Times& t, Fn&& fn) {
    const double w0 = now_ms(CLOCK_MONOTONIC), c0 = now_ms(CLOCK_PROCESS_CPUTIME_ID);
    fn();
    t.wall.push_back(now_ms(CLOCK_MONOTONIC) - w0);
    t.cpu.push_back(now_ms(CLOCK_PROCESS_CPUTIME_ID) - c0);
}

void print_list(const char* name, const std::vector<double>& v, bool last) {
    std::printf("\"%s\": [", name);
    for (size_t i = 0; i < v.size(); ++i) std::printf("%s%.3f", i ? ", " : "", v[i]);
    std::printf("]%s", last ? "" : ", ");
}

int run(int argc, char** argv) {
    if (argc < 2)
        throw std::runtime_error(
            "usage: render_bench WORKLOAD [--repeat R] [--threads T] [--no-warm] [--split] [--dump OUT]");
    int repeat = 5, threads = 0;
    bool warm = true, split = false;
    const char* dump = nullptr;
    for (int a = 2; a < argc; ++a) {
        const std::string arg = argv[a];
        if (arg == "--repeat" && a + 1 < argc)
            repeat = std::atoi(argv[++a]);
        else if (arg == "--threads" && a + 1 < argc)
            threads = std::atoi(argv[++a]);
        else if (arg == "--dump" && a + 1 < argc)
            dump = argv[++a];
        else if (arg == "--split")
            split = true;
        else if (arg == "--no-warm")
            warm = false;
        else
            throw std::runtime_error("unknown argument " + arg);
    }
    const Workload w = read_workload(argv[1]);
    texgs::GaussianParams g;
    g.n = w.n;
    g.channels = w.channels;
    g.means = w.means.data();
    g.inv_scales = w.inv_scales.data();
    g.rotations = w.rotations.data();
    g.values = w.values.data();
    g.background = w.background.data();
    texgs::RenderSettings s;
    s.height = w.height;
    s.width = w.width;
    s.k = w.k;
    s.wrap_x = w.wrap_x != 0;
    s.wrap_y = w.wrap_y != 0;
    s.threads = threads;
    const size_t n = size_t(w.n), c = size_t(w.channels);
    std::vector<float> out(size_t(w.height) * w.width * c);
    std::vector<float> d_means(2 * n), d_inv_scales(2 * n), d_rotations(n), d_values(n * c);
    const texgs::GaussianGrads grads = {d_means.data(), d_inv_scales.data(), d_rotations.data(),
                                        d_values.data()};
    // As the Python binding does: every call renders into a fresh
    // texgs::allocate_large buffer (freed after the call), and the result is
    // copied out untimed for --dump.
    struct Output {
        float* p;
        explicit Output(size_t floats)
            : p(static_cast<float*>(texgs::allocate_large(floats * sizeof(float)))) {}
        ~Output() { texgs::free_large(p); }
    };
    const size_t out_floats = out.size();
    auto forward = [&] {
        Output o(out_floats);
        texgs::render_forward_cpu(g, s, o.p, nullptr);
    };
    auto forward_backward = [&] {
        Output o(out_floats);
        texgs::ForwardState state;
        texgs::render_forward_cpu(g, s, o.p, &state);
        texgs::render_backward_cpu(g, s, state, o.p, w.grad_out.data(), grads);
    };
    auto keep_output = [&] {
        Output o(out_floats);
        texgs::ForwardState state;
        texgs::render_forward_cpu(g, s, o.p, &state);
        texgs::render_backward_cpu(g, s, state, o.p, w.grad_out.data(), grads);
        std::copy(o.p, o.p + out_floats, out.begin());
    };
    if (warm) {
        forward();
        forward_backward();
    }
    Times f, fb, fs, b;
    for (int r = 0; r < repeat; ++r) {
        timed(f, forward);
        timed(fb, forward_backward);
        if (split) {
            Output o(out_floats);
            texgs::ForwardState state;
            timed(fs, [&] { texgs::render_forward_cpu(g, s, o.p, &state); });
            timed(b, [&] { texgs::render_backward_cpu(g, s, state, o.p, w.grad_out.data(), grads); });
        }
    }
    std::printf("{");
    print_list("forward_wall_ms", f.wall, false);
    print_list("forward_cpu_ms", f.cpu, false);
    print_list("forward_backward_wall_ms", fb.wall, false);
    print_list("forward_backward_cpu_ms", fb.cpu, !split);
    if (split) {
        print_list("forward_state_wall_ms", fs.wall, false);
        print_list("forward_state_cpu_ms", fs.cpu, false);
        print_list("backward_wall_ms", b.wall, false);
        print_list("backward_cpu_ms", b.cpu, true);
    }
    std::printf("}\n");
    if (dump) {
        keep_output();
        FILE* o = std::fopen(dump, "wb");
        if (!o) throw std::runtime_error(std::string(dump) + ": cannot write");
        for (const std::vector<float>* v : {&out, &d_means, &d_inv_scales, &d_rotations, &d_values})
            std::fwrite(v->data(), sizeof(float), v->size(), o);
        std::fclose(o);
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "render_bench: %s\n", e.what());
        return 2;
    }
}
