#include "texgs/render.h"
namespace texgs {
void render_forward_cpu(const GaussianParams&, const RenderSettings&, float*, ForwardState*) {
    throw Error("not implemented");
}
void render_backward_cpu(const GaussianParams&, const RenderSettings&, const ForwardState&,
                         const float*, const float*, const GaussianGrads&) {
    throw Error("not implemented");
}
}
