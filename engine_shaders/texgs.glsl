// texgs engine include (GLSL 4.50 / Vulkan GLSL): sample a baked texgs material.
//
// Bind the packed file as an std430 SSBO of uint and define TEXGS_LOAD before
// including this file (GLSL cannot pass buffers to functions):
//     layout(std430, binding = 0) readonly buffer TexGSWords { uint texgs_words[]; };
//     #define TEXGS_LOAD(i) texgs_words[(i)]
//     #define TEXGS_MAX_CHANNELS 9          // optional, default 16
//     #include "texgs.glsl"                 // glslang: GL_GOOGLE_include_directive
// Then:
//     float v[TEXGS_MAX_CHANNELS];
//     uint c = texgs_sample(base_word, uv, 0u, v);   // base_word: the file's first word in the buffer
//     uint c = texgs_sample_grad(base_word, uv, dFdx(uv), dFdy(uv), 0u, v);   // filtered over the pixel
//     uint c = texgs_sample_level(base_word, uv, level, 0u, v);   // as seen at mip level `level`
// Every symbol is prefixed texgs_ / TexGS / TEXGS_. See docs/FORMAT.md.
#ifndef TEXGS_GLSL
#define TEXGS_GLSL
#ifndef TEXGS_LOAD
#error "texgs.glsl: define TEXGS_LOAD(i) (the i-th uint of the bound buffer) before including"
#endif
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 16
#endif
#include "texgs_layout.h"
#define TEXGS_VEC2 vec2
#define TEXGS_VEC3 vec3
#define TEXGS_ASFLOAT(u) uintBitsToFloat(u)
#include "texgs_core.inc"
#endif
