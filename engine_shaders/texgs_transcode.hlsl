// Transcode kernel (HLSL): a baked texgs material -> BC1/BC4/BC5/BC7/RGBA8 textures
// with mips, in one dispatch. The body is texgs_transcode.inc (shared with
// texgs_transcode.comp); texgs/transcode/runner.py binds and dispatches it.
[[vk::binding(0, 0)]] ByteAddressBuffer texgs_words;
[[vk::binding(1, 0)]] StructuredBuffer<uint> texgs_params;
[[vk::binding(2, 0)]] RWStructuredBuffer<uint> texgs_out;
#define TEXGS_LOAD(i) texgs_words.Load((i) << 2)
#define TEXGS_PARAM(i) texgs_params[(i)]
#define TEXGS_STORE(i, v) texgs_out[(i)] = (v)
#define TEXGS_SHARED groupshared
#define TEXGS_BARRIER() GroupMemoryBarrierWithGroupSync()
#include "texgs.hlsl"
#include "texgs_transcode.inc"

[numthreads(64, 1, 1)]
void main(uint3 group : SV_GroupID, uint local : SV_GroupIndex)
{
    texgs_transcode_main(group.x, group.y, local);
}
