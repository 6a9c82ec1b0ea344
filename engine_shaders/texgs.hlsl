// texgs engine include (HLSL, SM 5.0+ / DXC / glslang): sample a baked texgs material.
//
// Bind the packed file as a ByteAddressBuffer and define TEXGS_LOAD before
// including this file:
//     ByteAddressBuffer texgs_words : register(t0);
//     #define TEXGS_LOAD(i) texgs_words.Load((i) << 2)
//     #define TEXGS_MAX_CHANNELS 9          // optional, default 16
//     #include "texgs.hlsl"
// Then:
//     float v[TEXGS_MAX_CHANNELS];
//     uint c = texgs_sample(base_word, uv, 0u, v);   // base_word: the file's first word in the buffer
//     uint c = texgs_sample_grad(base_word, uv, ddx(uv), ddy(uv), 0u, v);   // filtered over the pixel
//     uint c = texgs_sample_level(base_word, uv, level, 0u, v);   // as seen at mip level `level`
// Every symbol is prefixed texgs_ / TexGS / TEXGS_. See docs/FORMAT.md.
#ifndef TEXGS_HLSL
#define TEXGS_HLSL
#ifndef TEXGS_LOAD
#error "texgs.hlsl: define TEXGS_LOAD(i) (the i-th uint of the bound buffer) before including"
#endif
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 16
#endif
#include "texgs_layout.h"
#define TEXGS_VEC2 float2
#define TEXGS_VEC3 float3
#define TEXGS_ASFLOAT(u) asfloat(u)
#include "texgs_core.inc"
#endif
