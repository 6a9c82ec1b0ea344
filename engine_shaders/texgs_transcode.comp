// Transcode kernel (GLSL / Vulkan): a baked texgs material -> BC1/BC4/BC5/BC7/RGBA8
// textures with mips, in one dispatch. The body is texgs_transcode.inc (shared with
// texgs_transcode.hlsl); texgs/transcode/runner.py binds and dispatches it.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : enable
layout(local_size_x = 64) in;
layout(std430, set = 0, binding = 0) readonly buffer TexGSWords { uint texgs_words[]; };
layout(std430, set = 0, binding = 1) readonly buffer TexGSParams { uint texgs_params[]; };
layout(std430, set = 0, binding = 2) buffer TexGSOut { uint texgs_out[]; };
#define TEXGS_LOAD(i) texgs_words[(i)]
#define TEXGS_PARAM(i) texgs_params[(i)]
#define TEXGS_STORE(i, v) texgs_out[(i)] = (v)
#define TEXGS_SHARED shared
#define TEXGS_BARRIER() \
    memoryBarrierShared(); \
    barrier()
#include "texgs.glsl"
#include "texgs_transcode.inc"

void main() { texgs_transcode_main(gl_WorkGroupID.x, gl_WorkGroupID.y, gl_LocalInvocationIndex); }
