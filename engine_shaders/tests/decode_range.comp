// Test kernel (GLSL): every texel's stored values, texgs_apply_range on each channel (ranges, log2).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer TexGSWords { uint texgs_words[]; };
layout(std430, set = 0, binding = 1) readonly buffer TexGSParams { uint params[]; };  // count
layout(std430, set = 0, binding = 2) buffer TexGSOut { float outv[]; };
#define TEXGS_LOAD(i) texgs_words[(i)]
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 8
#endif
#include "../texgs.glsl"

void main()
{
    uint gid = gl_GlobalInvocationID.x;
    if (gid >= params[0]) return;
    float v[TEXGS_MAX_CHANNELS];
    uint w = texgs_hdr(0u, TEXGS_H_WIDTH);
    uint n = texgs_sample_point(0u, vec2(float(gid % w) + 0.5, float(gid / w) + 0.5), 0u, v);
    for (uint c = 0u; c < n; c++) outv[gid * uint(TEXGS_MAX_CHANNELS) + c] = texgs_apply_range(0u, c, v[c]);
}
