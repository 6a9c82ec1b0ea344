#include "texgs/render.h"
namespace texgs {
void validate(const GaussianParams&, const RenderSettings&) {}
}
