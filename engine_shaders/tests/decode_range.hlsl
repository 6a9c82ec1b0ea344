// Test kernel (HLSL): every texel's stored values, texgs_apply_range on each channel (ranges, log2).
[[vk::binding(0, 0)]] ByteAddressBuffer texgs_words;
[[vk::binding(1, 0)]] StructuredBuffer<uint> params;  // count
[[vk::binding(2, 0)]] RWStructuredBuffer<float> outv;
#define TEXGS_LOAD(i) texgs_words.Load((i) << 2)
#ifndef TEXGS_MAX_CHANNELS
#define TEXGS_MAX_CHANNELS 8
#endif
#include "../texgs.hlsl"

[numthreads(64, 1, 1)]
void main(uint3 tid : SV_DispatchThreadID)
{
    uint gid = tid.x;
    if (gid >= params[0]) return;
    float v[TEXGS_MAX_CHANNELS];
    uint w = texgs_hdr(0u, TEXGS_H_WIDTH);
    uint n = texgs_sample_point(0u, float2(float(gid % w) + 0.5, float(gid / w) + 0.5), 0u, v);
    for (uint c = 0u; c < n; c++) outv[gid * uint(TEXGS_MAX_CHANNELS) + c] = texgs_apply_range(0u, c, v[c]);
}
