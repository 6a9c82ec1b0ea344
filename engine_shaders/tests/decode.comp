// Test kernel (GLSL): decode every texel (mode 0), a list of UVs (mode 1),
// UVs with derivatives (mode 2: uv, ddx, ddy per point) or UVs at mip levels (mode 3: uv, (level, 0)).
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer TexGSWords { uint texgs_words[]; };
layout(std430, set = 0, binding = 1) readonly buffer TexGSParams { uint params[]; };  // mode, count, lod, base
layout(std430, set = 0, binding = 2) readonly buffer TexGSPoints { vec2 points[]; };
layout(std430, set = 0, binding = 3) buffer TexGSOut { float outv[]; };
#define TEXGS_LOAD(i) texgs_words[(i)]
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 8
#endif
#include "../texgs.glsl"

void main()
{
    uint gid = gl_GlobalInvocationID.x;
    uint mode = params[0], count = params[1], lod = params[2], base = params[3];
    if (gid >= count) return;
    float v[TEXGS_MAX_CHANNELS];
    if (mode == 0u) {
        uint w = texgs_hdr(base, TEXGS_H_WIDTH);
        texgs_sample_point(base, vec2(float(gid % w) + 0.5, float(gid / w) + 0.5), lod, v);
    } else if (mode == 1u) {
        texgs_sample(base, points[gid], lod, v);
    } else if (mode == 2u) {
        texgs_sample_grad(base, points[3u * gid], points[3u * gid + 1u], points[3u * gid + 2u], lod, v);
    } else {
        texgs_sample_level(base, points[2u * gid], points[2u * gid + 1u].x, lod, v);
    }
    for (uint c = 0u; c < uint(TEXGS_MAX_CHANNELS); c++) outv[gid * uint(TEXGS_MAX_CHANNELS) + c] = v[c];
}
