// The one file that knows Python: pybind11 bindings of the plain C++ API in
// native/include/texgs/render.h. Arrays come in as numpy float32, C-contiguous,
// with the exact shapes below; anything else raises TypeError / ValueError
// naming the argument (nothing is copied or converted silently). texgs::Error
// becomes texgs._native.NativeError, a ValueError. The GIL is released while
// rendering.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "texgs/constants.h"
#include "texgs/render.h"
#ifdef TEXGS_WITH_CUDA
#include "texgs/render_cuda.h"
#endif

namespace py = pybind11;

namespace {

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks that `a` is float32, C-contiguous, and of shape `shape` (-1 = any) and returns its data.
template <class T = float>
T* checked(const py::array& a, const char* name, std::vector<py::ssize_t> shape, bool writable = false) {
    if (!a.dtype().is(py::dtype::of<float>()))
        throw py::type_error(std::string(name) + " must be a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    bool ok = a.ndim() == py::ssize_t(shape.size());
    for (size_t d = 0; ok && d < shape.size(); ++d) ok = shape[d] < 0 || a.shape(d) == shape[d];
    if (!ok) {
        std::string want = "(";
        for (size_t d = 0; d < shape.size(); ++d)
            want += (d ? ", " : "") + (shape[d] < 0 ? std::string("any") : std::to_string(shape[d]));
        want += shape.size() == 1 ? ",)" : ")";
        throw py::value_error(std::string(name) + " must have shape " + want + ", got " + shape_str(a));
    }
    if (!(a.flags() & py::array::c_style))
        throw py::value_error(std::string(name) + " must be C-contiguous (no copy is made)");
    if (writable && !a.writeable()) throw py::value_error(std::string(name) + " is read-only");
    return static_cast<T*>(const_cast<void*>(a.data()));
}

// Validated parameters for one call; the arrays keep the buffers alive.
struct Call {
    texgs::GaussianParams g;
    texgs::RenderSettings s;
};

Call make_call(const py::array& means, const py::array& inv_scales, const py::array& rotations,
               const py::array& values, const py::array& background, int height, int width, int k,
               bool wrap_x, bool wrap_y, int threads) {
    Call call;
    checked(values, "values", {-1, -1});
    const py::ssize_t n = values.shape(0), c = values.shape(1);
    call.g.n = int(n);
    call.g.channels = int(c);
    call.g.means = checked(means, "means", {n, 2});
    call.g.inv_scales = checked(inv_scales, "inv_scales", {n, 2});
    call.g.rotations = checked(rotations, "rotations", {n});
    call.g.values = checked(values, "values", {n, c});
    call.g.background = checked(background, "background", {c});
    call.s.height = height;
    call.s.width = width;
    call.s.k = k;
    call.s.wrap_x = wrap_x;
    call.s.wrap_y = wrap_y;
    call.s.threads = threads;
    texgs::validate(call.g, call.s);
    return call;
}

// An L2 data term from optional arrays: none when target is None; else target
// [H, W, C], lo, span [C] (and coef [C] when with_coef), checked. The arrays
// must outlive the term.
std::unique_ptr<texgs::L2Term> l2_term(const py::object& target, const py::object& lo, const py::object& span,
                                       const py::object& coef, bool with_coef, py::ssize_t h, py::ssize_t w,
                                       py::ssize_t c) {
    if (target.is_none()) return nullptr;
    auto term = std::make_unique<texgs::L2Term>();
    auto array = [](const py::object& o, const char* name) {
        if (!py::isinstance<py::array>(o)) throw py::type_error(std::string(name) + " must be a numpy array");
        return o.cast<py::array>();
    };
    term->target = checked(array(target, "target"), "target", {h, w, c});
    term->lo = checked(array(lo, "lo"), "lo", {c});
    term->span = checked(array(span, "span"), "span", {c});
    if (with_coef) term->coef = checked(array(coef, "coef"), "coef", {c});
    return term;
}

#ifdef TEXGS_WITH_CUDA
// GaussianParams over device addresses (torch data_ptr() values).
texgs::GaussianParams device_params(std::uintptr_t means, std::uintptr_t inv_scales, std::uintptr_t rotations,
                                    std::uintptr_t values, std::uintptr_t background, int n, int channels) {
    texgs::GaussianParams g;
    g.n = n;
    g.channels = channels;
    g.means = reinterpret_cast<const float*>(means);
    g.inv_scales = reinterpret_cast<const float*>(inv_scales);
    g.rotations = reinterpret_cast<const float*>(rotations);
    g.values = reinterpret_cast<const float*>(values);
    g.background = reinterpret_cast<const float*>(background);
    return g;
}
#endif

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "texgs native renderer (CPU; CUDA when built)";
    m.attr("MAX_K") = texgs::kMaxK;
    m.attr("MAX_CHANNELS") = texgs::kMaxChannels;
    m.attr("SIGMA_CUTOFF") = texgs::kSigmaCutoff;
    m.attr("Q_CUTOFF") = texgs::kQCutoff;
    m.attr("TILE_SIZE") = texgs::kTileSize;
    m.attr("MAX_SIDE") = texgs::kMaxSide;
    m.attr("MAX_RENDER_BYTES") = texgs::kMaxRenderBytes;
    m.attr("MAX_MAGNITUDE") = texgs::kMaxMagnitude;
    py::register_exception<texgs::Error>(m, "NativeError", PyExc_ValueError);

    py::class_<texgs::ForwardState, std::shared_ptr<texgs::ForwardState>>(
        m, "ForwardState", "Opaque: what backward needs from forward (tile lists, selections).")
        .def_property_readonly("tile_entries",
                               [](const texgs::ForwardState& s) { return s.tiles.ids.size(); });

    m.def(
        "forward_cpu",
        [](const py::array& means, const py::array& inv_scales, const py::array& rotations,
           const py::array& values, const py::array& background, int height, int width, int k, bool wrap_x,
           bool wrap_y, int threads, bool keep_state, const py::object& target, const py::object& lo,
           const py::object& span, const py::object& squared_error) {
            Call call = make_call(means, inv_scales, rotations, values, background, height, width, k, wrap_x,
                                  wrap_y, threads);
            const auto l2 = l2_term(target, lo, span, py::none(), false, height, width, call.g.channels);
            double* sq_data = nullptr;
            if (l2) {
                if (!py::isinstance<py::array>(squared_error))
                    throw py::type_error("squared_error must be a float64 numpy array of shape (C,)");
                const py::array sq = squared_error.cast<py::array>();
                if (!sq.dtype().is(py::dtype::of<double>()) || sq.ndim() != 1 ||
                    sq.shape(0) != py::ssize_t(call.g.channels) || !(sq.flags() & py::array::c_style) ||
                    !sq.writeable())
                    throw py::value_error("squared_error must be a writable float64 array of shape (" +
                                          std::to_string(call.g.channels) + ",)");
                sq_data = static_cast<double*>(const_cast<void*>(sq.data()));
            }
            // Refuse before allocating anything (the tile lists are checked once counted).
            texgs::check_budget(texgs::render_base_bytes(call.g, call.s, keep_state),
                                "rendering " + std::to_string(height) + "x" + std::to_string(width) + "x" +
                                    std::to_string(call.g.channels));
            // The output lives in huge-page memory (render.h: allocate_large):
            // faulting in tens of MB in 4 KiB pages would cost a good share of a render.
            const size_t count = size_t(height) * size_t(width) * size_t(call.g.channels);
            float* out_data = static_cast<float*>(texgs::allocate_large(count * sizeof(float)));
            py::capsule owner(out_data, [](void* p) { texgs::free_large(p); });
            py::array_t<float> out({py::ssize_t(height), py::ssize_t(width), py::ssize_t(call.g.channels)},
                                   out_data, owner);
            std::shared_ptr<texgs::ForwardState> state;
            if (keep_state) state = std::make_shared<texgs::ForwardState>();
            {
                py::gil_scoped_release release;
                texgs::render_forward_cpu(call.g, call.s, out_data, state.get(), l2.get(), sq_data);
            }
            return py::make_tuple(out, state ? py::cast(state) : py::none());
        },
        py::arg("means"), py::arg("inv_scales"), py::arg("rotations"), py::arg("values"),
        py::arg("background"), py::arg("height"), py::arg("width"), py::arg("k"), py::arg("wrap_x"),
        py::arg("wrap_y"), py::arg("threads") = 0, py::arg("keep_state") = false,
        py::arg("target") = py::none(), py::arg("lo") = py::none(), py::arg("span") = py::none(),
        py::arg("squared_error") = py::none(),
        R"(Render the image function on the CPU.

means [N, 2] texels (x, y); inv_scales [N, 2] 1/texels; rotations [N] radians;
values [N, C]; background [C]: float32, C-contiguous. Returns (out [H, W, C]
float32, state), state a ForwardState when keep_state else None. With target
[H, W, C], lo, span [C] (an L2 term, render.h: L2Term) and squared_error, a
float64 [C] array, squared_error receives each channel's sum over the texels
of (lo + span out - target)^2.)");

    m.def(
        "backward_cpu",
        [](const std::shared_ptr<texgs::ForwardState>& state, const py::array& means,
           const py::array& inv_scales, const py::array& rotations, const py::array& values,
           const py::array& background, const py::array& out, const py::object& grad_out, int threads,
           const py::object& target, const py::object& lo, const py::object& span, const py::object& coef,
           float loss_grad) {
            if (!state) throw py::value_error("state must be a ForwardState, got None");
            const texgs::RenderSettings& f = state->settings;
            Call call = make_call(means, inv_scales, rotations, values, background, f.height, f.width, f.k,
                                  f.wrap_x, f.wrap_y, threads);
            const py::ssize_t h = f.height, w = f.width, c = call.g.channels, n = call.g.n;
            const float* out_data = checked(out, "out", {h, w, c});
            const auto l2 = l2_term(target, lo, span, coef, true, h, w, c);
            if (l2) l2->loss_grad = loss_grad;
            if (grad_out.is_none() && !l2) throw py::value_error("grad_out is None and there is no L2 term");
            const float* grad_data = nullptr;
            if (!grad_out.is_none()) {
                if (!py::isinstance<py::array>(grad_out))
                    throw py::type_error("grad_out must be a numpy array");
                grad_data = checked(grad_out.cast<py::array>(), "grad_out", {h, w, c});
            }
            py::array_t<float> d_means({n, py::ssize_t(2)}), d_inv({n, py::ssize_t(2)}), d_rot({n}),
                d_values({n, c});
            texgs::GaussianGrads grads{d_means.mutable_data(), d_inv.mutable_data(), d_rot.mutable_data(),
                                       d_values.mutable_data()};
            {
                py::gil_scoped_release release;
                texgs::render_backward_cpu(call.g, call.s, *state, out_data, grad_data, grads, l2.get());
            }
            return py::make_tuple(d_means, d_inv, d_rot, d_values);
        },
        py::arg("state"), py::arg("means"), py::arg("inv_scales"), py::arg("rotations"), py::arg("values"),
        py::arg("background"), py::arg("out"), py::arg("grad_out"), py::arg("threads") = 0,
        py::arg("target") = py::none(), py::arg("lo") = py::none(), py::arg("span") = py::none(),
        py::arg("coef") = py::none(), py::arg("loss_grad") = 1.0f,
        R"(Gradients of the CPU renderer for the forward call that made `state`.

out, grad_out: [H, W, C] float32 (the forward result and dL/dout; grad_out may
be None with an L2 term). With target [H, W, C], lo, span, coef [C] and
loss_grad (an L2 term, render.h: L2Term), dL/dout is that term's gradient
plus grad_out's. Returns
(d_means [N, 2], d_inv_scales [N, 2], d_rotations [N], d_values [N, C]).
Bitwise identical for any thread count.)");

    // CUDA bindings: raw device pointers (torch's data_ptr()) as integers; the
    // Python side (texgs/native.py) checks dtype, shape, contiguity and device.
#ifdef TEXGS_WITH_CUDA
    m.attr("CUDA_BUILT") = true;
    m.def("cuda_device_count", &texgs::cuda_device_count,
          "CUDA devices usable by this process; 0 without a driver or device (never raises).");
    m.def("cuda_release_cached_memory", &texgs::cuda_release_cached_memory,
          "Return the CUDA renderer's cached device memory to the driver.");
    py::class_<texgs::CudaForwardState, std::shared_ptr<texgs::CudaForwardState>>(
        m, "CudaForwardState", "Opaque: device buffers the CUDA backward needs from forward.")
        .def_property_readonly("tile_entries", [](const texgs::CudaForwardState& s) { return s.entries; });
    m.def(
        "forward_cuda",
        [](std::uintptr_t means, std::uintptr_t inv_scales, std::uintptr_t rotations, std::uintptr_t values,
           std::uintptr_t background, int n, int channels, int height, int width, int k, bool wrap_x,
           bool wrap_y, std::uintptr_t out, bool keep_state, std::uintptr_t stream) {
            const texgs::GaussianParams g =
                device_params(means, inv_scales, rotations, values, background, n, channels);
            texgs::RenderSettings s;
            s.height = height;
            s.width = width;
            s.k = k;
            s.wrap_x = wrap_x;
            s.wrap_y = wrap_y;
            std::shared_ptr<texgs::CudaForwardState> state;
            if (keep_state) state = std::make_shared<texgs::CudaForwardState>();
            {
                py::gil_scoped_release release;
                texgs::render_forward_cuda(g, s, reinterpret_cast<float*>(out), state.get(),
                                           reinterpret_cast<void*>(stream));
            }
            return state ? py::cast(state) : py::none();
        },
        py::arg("means"), py::arg("inv_scales"), py::arg("rotations"), py::arg("values"),
        py::arg("background"), py::arg("n"), py::arg("channels"), py::arg("height"), py::arg("width"),
        py::arg("k"), py::arg("wrap_x"), py::arg("wrap_y"), py::arg("out"), py::arg("keep_state"),
        py::arg("stream"),
        R"(Render with CUDA into `out`. Pointers are device addresses of contiguous
float32 tensors on one device: means [N, 2], inv_scales [N, 2], rotations [N],
values [N, C], background [C], out [H, W, C]; stream: cudaStream_t as int
(torch.cuda.current_stream().cuda_stream). Returns a CudaForwardState when
keep_state else None. Asynchronous on `stream` after one internal sync.)");
    m.def(
        "backward_cuda",
        [](const std::shared_ptr<texgs::CudaForwardState>& state, std::uintptr_t means,
           std::uintptr_t inv_scales, std::uintptr_t rotations, std::uintptr_t values,
           std::uintptr_t background, std::uintptr_t out, std::uintptr_t grad_out, std::uintptr_t d_means,
           std::uintptr_t d_inv_scales, std::uintptr_t d_rotations, std::uintptr_t d_values,
           std::uintptr_t stream) {
            if (!state) throw py::value_error("state must be a CudaForwardState, got None");
            const texgs::GaussianParams g =
                device_params(means, inv_scales, rotations, values, background, state->n, state->channels);
            texgs::RenderSettings s;
            s.height = state->height;
            s.width = state->width;
            s.k = state->k;
            s.wrap_x = state->wrap_x;
            s.wrap_y = state->wrap_y;
            texgs::GaussianGrads grads{
                reinterpret_cast<float*>(d_means), reinterpret_cast<float*>(d_inv_scales),
                reinterpret_cast<float*>(d_rotations), reinterpret_cast<float*>(d_values)};
            py::gil_scoped_release release;
            texgs::render_backward_cuda(g, s, *state, reinterpret_cast<const float*>(out),
                                        reinterpret_cast<const float*>(grad_out), grads,
                                        reinterpret_cast<void*>(stream));
        },
        py::arg("state"), py::arg("means"), py::arg("inv_scales"), py::arg("rotations"), py::arg("values"),
        py::arg("background"), py::arg("out"), py::arg("grad_out"), py::arg("d_means"),
        py::arg("d_inv_scales"), py::arg("d_rotations"), py::arg("d_values"), py::arg("stream"),
        R"(Gradients of the CUDA renderer for the forward call that made `state`,
written into the d_* device buffers (means [N, 2], inv_scales [N, 2],
rotations [N], values [N, C]). out, grad_out: [H, W, C]. Deterministic.)");
#else
    m.attr("CUDA_BUILT") = false;
    m.def(
        "cuda_device_count", [] { return 0; }, "Always 0: built without the CUDA renderer.");
#endif
}
