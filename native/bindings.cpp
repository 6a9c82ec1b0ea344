// The one file that knows Python: pybind11 bindings of the plain C++ API in
// native/include/texgs/render.h. Arrays come in as numpy float32, C-contiguous,
// with the exact shapes below; anything else raises TypeError / ValueError
// naming the argument (nothing is copied or converted silently). texgs::Error
// becomes texgs._native.NativeError, a ValueError. The GIL is released while
// rendering.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <string>
#include <vector>

#include "texgs/constants.h"
#include "texgs/render.h"

namespace py = pybind11;

namespace {

std::string shape_str(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t d = 0; d < a.ndim(); ++d) s += (d ? ", " : "") + std::to_string(a.shape(d));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

// Checks that `a` is float32, C-contiguous, and of shape `shape` (-1 = any) and returns its data.
template <class T = float>
T* checked(const py::array& a, const char* name, std::vector<py::ssize_t> shape,
           bool writable = false) {
    if (!a.dtype().is(py::dtype::of<float>()))
        throw py::type_error(std::string(name) + " must be a float32 array, got dtype " +
                             std::string(py::str(a.dtype())));
    bool ok = a.ndim() == py::ssize_t(shape.size());
    for (size_t d = 0; ok && d < shape.size(); ++d)
        ok = shape[d] < 0 || a.shape(d) == shape[d];
    if (!ok) {
        std::string want = "(";
        for (size_t d = 0; d < shape.size(); ++d)
            want += (d ? ", " : "") + (shape[d] < 0 ? std::string("any") : std::to_string(shape[d]));
        want += shape.size() == 1 ? ",)" : ")";
        throw py::value_error(std::string(name) + " must have shape " + want + ", got " +
                              shape_str(a));
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

}  // namespace

PYBIND11_MODULE(_native, m) {
    m.doc() = "texgs native renderer (CPU; CUDA when built)";
    m.attr("MAX_K") = texgs::kMaxK;
    m.attr("MAX_CHANNELS") = texgs::kMaxChannels;
    m.attr("Q_CUTOFF") = texgs::kQCutoff;
    m.attr("TILE_SIZE") = texgs::kTileSize;
    py::register_exception<texgs::Error>(m, "NativeError", PyExc_ValueError);

    py::class_<texgs::ForwardState, std::shared_ptr<texgs::ForwardState>>(
        m, "ForwardState", "Opaque: what backward needs from forward (tile lists, selections).")
        .def_property_readonly("tile_entries",
                               [](const texgs::ForwardState& s) { return s.tiles.ids.size(); });

    m.def(
        "forward_cpu",
        [](const py::array& means, const py::array& inv_scales, const py::array& rotations,
           const py::array& values, const py::array& background, int height, int width, int k,
           bool wrap_x, bool wrap_y, int threads, bool keep_state) {
            Call call = make_call(means, inv_scales, rotations, values, background, height, width,
                                  k, wrap_x, wrap_y, threads);
            // The output lives in huge-page memory (render.h: allocate_large):
            // faulting in tens of MB in 4 KiB pages would cost a good share of a render.
            const size_t count = size_t(height) * size_t(width) * size_t(call.g.channels);
            float* out_data = static_cast<float*>(texgs::allocate_large(count * sizeof(float)));
            py::capsule owner(out_data, [](void* p) { texgs::free_large(p); });
            py::array_t<float> out({py::ssize_t(height), py::ssize_t(width),
                                    py::ssize_t(call.g.channels)},
                                   out_data, owner);
            std::shared_ptr<texgs::ForwardState> state;
            if (keep_state) state = std::make_shared<texgs::ForwardState>();
            {
                py::gil_scoped_release release;
                texgs::render_forward_cpu(call.g, call.s, out_data, state.get());
            }
            return py::make_tuple(out, state ? py::cast(state) : py::none());
        },
        py::arg("means"), py::arg("inv_scales"), py::arg("rotations"), py::arg("values"),
        py::arg("background"), py::arg("height"), py::arg("width"), py::arg("k"),
        py::arg("wrap_x"), py::arg("wrap_y"), py::arg("threads") = 0,
        py::arg("keep_state") = false,
        R"(Render the image function on the CPU.

means [N, 2] texels (x, y); inv_scales [N, 2] 1/texels; rotations [N] radians;
values [N, C]; background [C]: float32, C-contiguous. Returns (out [H, W, C]
float32, state), state a ForwardState when keep_state else None.)");

    m.def(
        "backward_cpu",
        [](const std::shared_ptr<texgs::ForwardState>& state, const py::array& means,
           const py::array& inv_scales, const py::array& rotations, const py::array& values,
           const py::array& background, const py::array& out, const py::array& grad_out,
           int threads) {
            if (!state) throw py::value_error("state must be a ForwardState, got None");
            const texgs::RenderSettings& f = state->settings;
            Call call = make_call(means, inv_scales, rotations, values, background, f.height,
                                  f.width, f.k, f.wrap_x, f.wrap_y, threads);
            const py::ssize_t h = f.height, w = f.width, c = call.g.channels, n = call.g.n;
            const float* out_data = checked(out, "out", {h, w, c});
            const float* grad_data = checked(grad_out, "grad_out", {h, w, c});
            py::array_t<float> d_means({n, py::ssize_t(2)}), d_inv({n, py::ssize_t(2)}),
                d_rot({n}), d_values({n, c});
            texgs::GaussianGrads grads{d_means.mutable_data(), d_inv.mutable_data(),
                                       d_rot.mutable_data(), d_values.mutable_data()};
            {
                py::gil_scoped_release release;
                texgs::render_backward_cpu(call.g, call.s, *state, out_data, grad_data, grads);
            }
            return py::make_tuple(d_means, d_inv, d_rot, d_values);
        },
        py::arg("state"), py::arg("means"), py::arg("inv_scales"), py::arg("rotations"),
        py::arg("values"), py::arg("background"), py::arg("out"), py::arg("grad_out"),
        py::arg("threads") = 0,
        R"(Gradients of the CPU renderer for the forward call that made `state`.

out, grad_out: [H, W, C] float32 (the forward result and dL/dout). Returns
(d_means [N, 2], d_inv_scales [N, 2], d_rotations [N], d_values [N, C]).
Bitwise identical for any thread count.)");

    // CUDA bindings
    // (the CUDA engineer adds forward_cuda / backward_cuda here, guarded by
    // #ifdef TEXGS_WITH_CUDA, and sets m.attr("CUDA_BUILT") accordingly)
    m.attr("CUDA_BUILT") = false;
}
