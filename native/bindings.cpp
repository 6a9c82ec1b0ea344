#include <pybind11/pybind11.h>
#include "texgs/constants.h"
namespace py = pybind11;
PYBIND11_MODULE(_native, m) {
    m.attr("MAX_K") = texgs::kMaxK;
    m.attr("MAX_CHANNELS") = texgs::kMaxChannels;
    m.attr("Q_CUTOFF") = texgs::kQCutoff;
    m.attr("TILE_SIZE") = texgs::kTileSize;
}
