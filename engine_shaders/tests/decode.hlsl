// Test kernel (HLSL): decode every texel (mode 0), a list of UVs (mode 1),
// UVs with derivatives (mode 2: uv, ddx, ddy per point) or UVs at mip levels (mode 3: uv, (level, 0)).
[[vk::binding(0, 0)]] ByteAddressBuffer texgs_words;
[[vk::binding(1, 0)]] StructuredBuffer<uint> params;     // mode, count, lod, base
[[vk::binding(2, 0)]] StructuredBuffer<float2> points;
[[vk::binding(3, 0)]] RWStructuredBuffer<float> outv;
#define TEXGS_LOAD(i) texgs_words.Load((i) << 2)
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 8
#endif
#include "../texgs.hlsl"

[numthreads(64, 1, 1)]
void main(uint3 tid : SV_DispatchThreadID)
{
    uint gid = tid.x;
    uint mode = params[0], count = params[1], lod = params[2], base = params[3];
    if (gid >= count) return;
    float v[TEXGS_MAX_CHANNELS];
    if (mode == 0u) {
        uint w = texgs_hdr(base, TEXGS_H_WIDTH);
        texgs_sample_point(base, float2(float(gid % w) + 0.5, float(gid / w) + 0.5), lod, v);
    } else if (mode == 1u) {
        texgs_sample(base, points[gid], lod, v);
    } else if (mode == 2u) {
        texgs_sample_grad(base, points[3u * gid], points[3u * gid + 1u], points[3u * gid + 2u], lod, v);
    } else {
        texgs_sample_level(base, points[2u * gid], points[2u * gid + 1u].x, lod, v);
    }
    for (uint c = 0u; c < uint(TEXGS_MAX_CHANNELS); c++) outv[gid * uint(TEXGS_MAX_CHANNELS) + c] = v[c];
}
