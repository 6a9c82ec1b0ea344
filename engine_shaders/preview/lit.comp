// Lit preview kernel (GLSL compute): a material on a sphere (left square) and on a
// tilted plane (right square), ray-cast per pixel and lit by one directional light
// with Lambert diffuse + GGX specular (docs/preview.md).
//
// One shading body, two ways to read the material (params[P_MODE]):
//   PREVIEW_MODE_TEXGS   the packed file in binding 0, through texgs_sample_grad
//                        (the shipped include) with the pixel's UV derivatives;
//   PREVIEW_MODE_SOURCE  float maps in binding 2 (a mip chain, [h, w, C] per level),
//                        bilinear within a level, linear between the two levels the
//                        UV derivatives select (what a GPU's trilinear sampler does).
// The parameter layout (P_* word indices) comes from texgs/preview/scene.py as -D defines.
#version 450
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 8, local_size_y = 8) in;
layout(std430, set = 0, binding = 0) readonly buffer TexGSWords { uint texgs_words[]; };
layout(std430, set = 0, binding = 1) readonly buffer PreviewParams { uint params[]; };
layout(std430, set = 0, binding = 2) readonly buffer PreviewSource { float source[]; };
layout(std430, set = 0, binding = 3) buffer PreviewOut { vec4 outp[]; };
#define TEXGS_LOAD(i) texgs_words[(i)]
#define TEXGS_MAX_CHANNELS PREVIEW_MAX_CHANNELS
#include "../texgs.glsl"

#ifndef P_MODE
#error "lit.comp: compile through texgs.preview (it defines the parameter layout)"
#endif
#define NONE 0xFFFFFFFFu
#define PI 3.14159265358979

uint pu(uint i) { return params[i]; }
float pf(uint i) { return uintBitsToFloat(params[i]); }

// ---- material reads ----------------------------------------------------------

// Bilinear sample of mip level l of the source maps at uv, added with `weight`.
void source_bilinear(uint l, vec2 uv, float weight, inout float v[PREVIEW_MAX_CHANNELS])
{
    uint nc = pu(P_CHANNELS);
    int w = int(max(pu(P_MAT_W) >> l, 1u));
    int h = int(max(pu(P_MAT_H) >> l, 1u));
    uint base = pu(P_MIP_OFFSET + l);
    vec2 p = uv * vec2(float(w), float(h)) - 0.5;
    vec2 f = floor(p);
    vec2 t = p - f;
    int x0 = int(f.x), y0 = int(f.y);
    for (int k = 0; k < 4; k++) {
        int x = x0 + (k & 1);
        int y = y0 + (k >> 1);
        x = (pu(P_WRAP_X) != 0u) ? ((x % w) + w) % w : clamp(x, 0, w - 1);
        y = (pu(P_WRAP_Y) != 0u) ? ((y % h) + h) % h : clamp(y, 0, h - 1);
        float wk = weight * (((k & 1) != 0) ? t.x : 1.0 - t.x) * (((k >> 1) != 0) ? t.y : 1.0 - t.y);
        uint at = base + (uint(y) * uint(w) + uint(x)) * nc;
        for (uint c = 0u; c < nc; c++) v[c] += wk * source[at + c];
    }
}

// Trilinear: the level of the longer derivative (in level-0 texels), as a GPU picks it.
void sample_source(vec2 uv, vec2 dx, vec2 dy, out float v[PREVIEW_MAX_CHANNELS])
{
    for (uint c = 0u; c < uint(PREVIEW_MAX_CHANNELS); c++) v[c] = 0.0;
    vec2 size = vec2(float(pu(P_MAT_W)), float(pu(P_MAT_H)));
    float rho = max(length(dx * size), length(dy * size));
    float top = float(pu(P_MIP_LEVELS) - 1u);
    float lod = clamp(log2(max(rho, 1e-6)), 0.0, top);
    uint l0 = uint(floor(lod));
    float t = lod - float(l0);
    source_bilinear(l0, uv, 1.0 - t, v);
    if (t > 0.0) source_bilinear(min(l0 + 1u, uint(top)), uv, t, v);
}

// The packed file, filtered over the pixel; unit values mapped to stored values.
void sample_texgs(vec2 uv, vec2 dx, vec2 dy, out float v[PREVIEW_MAX_CHANNELS])
{
    uint nc = texgs_sample_grad(0u, uv, dx, dy, 0u, v);
    TexGSMaterial m = texgs_material(0u);
    for (uint c = 0u; c < nc; c++) {
        float lo = TEXGS_ASFLOAT(texgs_channel_field(m, c, TEXGS_C_RANGE_LO));
        float hi = TEXGS_ASFLOAT(texgs_channel_field(m, c, TEXGS_C_RANGE_HI));
        v[c] = lo + (hi - lo) * v[c];
    }
}

float channel_or(float v[PREVIEW_MAX_CHANNELS], uint slot, float fallback)
{
    uint c = pu(slot);
    return (c == NONE) ? fallback : v[c];
}

float colour(float v[PREVIEW_MAX_CHANNELS], uint slot, uint srgb_slot, float fallback)
{
    uint c = pu(slot);
    if (c == NONE) return fallback;
    return (pu(srgb_slot) != 0u) ? texgs_srgb_to_linear(v[c]) : max(v[c], 0.0);
}

// ---- geometry ----------------------------------------------------------------

struct Hit
{
    bool ok;
    vec3 p, n;        // position, geometric normal
    vec2 uv;
    vec3 dpdu, dpdv;  // surface derivatives (orthogonal on both shapes)
};

// Camera at the origin looking down -z; pixel centre `pix` of an S x S viewport.
vec3 ray_dir(vec2 pix)
{
    float s = float(pu(P_PANEL));
    float th = pf(P_TAN_HALF);
    vec2 ndc = pix / s * 2.0 - 1.0;
    return normalize(vec3(ndc.x * th, -ndc.y * th, -1.0));
}

// Sphere at (0, 0, -dist), u = longitude / pi + 1/2 (the front shows u in [0, 1]),
// v = colatitude / pi (rows run down the image, as texel rows do).
Hit hit_sphere(vec3 d)
{
    Hit h;
    h.ok = false;
    vec3 c = vec3(0.0, 0.0, -pf(P_SPHERE_DIST));
    float r = pf(P_SPHERE_RADIUS);
    float b = dot(d, c);
    float disc = b * b - (dot(c, c) - r * r);
    if (disc < 0.0) return h;
    float t = b - sqrt(disc);
    h.ok = t > 0.0;
    h.p = t * d;
    h.n = normalize(h.p - c);
    vec3 n = h.n;
    h.uv = vec2(atan(n.x, n.z) / PI + 0.5, acos(clamp(n.y, -1.0, 1.0)) / PI);
    float s = max(sqrt(n.x * n.x + n.z * n.z), 1e-4);
    h.dpdu = PI * r * vec3(n.z, 0.0, -n.x);
    h.dpdv = PI * r * vec3(n.y * n.x / s, -s, n.y * n.z / s);
    return h;
}

// Square of side 2 * half centred at (0, 0, -dist), normal (0, sin tilt, cos tilt):
// texture right is +x, texture up runs away from the camera; `repeat` tiles across it.
Hit hit_plane(vec3 d)
{
    Hit h;
    h.ok = false;
    vec3 c = vec3(0.0, 0.0, -pf(P_PLANE_DIST));
    vec3 n = vec3(0.0, pf(P_PLANE_SIN), pf(P_PLANE_COS));
    vec3 up = vec3(0.0, pf(P_PLANE_COS), -pf(P_PLANE_SIN));
    float half_side = pf(P_PLANE_HALF);
    float rep = float(pu(P_PLANE_REPEAT));
    float den = dot(d, n);
    if (abs(den) < 1e-6) return h;
    float t = dot(c, n) / den;
    vec3 p = t * d;
    float a = p.x - c.x;
    float b = dot(p - c, up);
    h.ok = t > 0.0 && abs(a) <= half_side && abs(b) <= half_side;
    h.p = p;
    h.n = n;
    h.uv = vec2((a + half_side), (half_side - b)) * (rep / (2.0 * half_side));
    h.dpdu = vec3(1.0, 0.0, 0.0) * (2.0 * half_side / rep);
    h.dpdv = -up * (2.0 * half_side / rep);
    return h;
}

// UV change to the neighbouring pixel's ray, through the tangent plane at the hit
// (ray differentials): exact on the plane, first order on the sphere.
vec2 uv_delta(Hit h, vec3 d)
{
    float den = dot(d, h.n);
    vec3 q = (abs(den) > 1e-6) ? d * (dot(h.p, h.n) / den) : h.p + h.dpdu + h.dpdv;
    vec3 e = q - h.p;
    vec2 duv = vec2(dot(e, h.dpdu) / dot(h.dpdu, h.dpdu), dot(e, h.dpdv) / dot(h.dpdv, h.dpdv));
    return clamp(duv, vec2(-1.0), vec2(1.0));
}

// ---- shading -----------------------------------------------------------------

vec3 shade(Hit h, vec3 d, float v[PREVIEW_MAX_CHANNELS])
{
    // Tangent frame: T along +u, B toward the texture's top (decreasing v, OpenGL +Y).
    vec3 n = h.n;
    vec3 tt = normalize(h.dpdu);
    vec3 bb = -normalize(h.dpdv);
    if (pu(P_NORMAL_X) != NONE) {
        vec3 e = vec3(v[pu(P_NORMAL_X)], v[pu(P_NORMAL_Y)], 1.0);
        if (pu(P_NORMAL_Z) != NONE) {
            e.z = v[pu(P_NORMAL_Z)];
        } else {  // two-channel normal map: rebuild Z
            vec2 xy = vec2(e.x, e.y) * 2.0 - 1.0;
            e.z = 0.5 * sqrt(max(1.0 - dot(xy, xy), 0.0)) + 0.5;
        }
        vec3 ts = texgs_normal_from_encoded(e);
        if (pu(P_NORMAL_FLIP_Y) != 0u) ts.y = -ts.y;  // DirectX: green points down
        n = normalize(tt * ts.x + bb * ts.y + h.n * ts.z);
    }
    vec3 albedo = vec3(colour(v, P_ALBEDO_R, P_ALBEDO_SRGB, 0.5), colour(v, P_ALBEDO_G, P_ALBEDO_SRGB, 0.5),
                       colour(v, P_ALBEDO_B, P_ALBEDO_SRGB, 0.5));
    float rough = clamp(channel_or(v, P_ROUGH, 0.5), 0.0, 1.0);
    if (pu(P_ROUGH) != NONE && pu(P_ROUGH_INVERT) != 0u) rough = 1.0 - rough;  // gloss / smoothness
    rough = max(rough, pf(P_MIN_ROUGH));
    float metal = clamp(channel_or(v, P_METAL, 0.0), 0.0, 1.0);
    float ao = clamp(channel_or(v, P_AO, 1.0), 0.0, 1.0);
    vec3 emit = vec3(colour(v, P_EMIT_R, P_EMIT_SRGB, 0.0), colour(v, P_EMIT_G, P_EMIT_SRGB, 0.0),
                     colour(v, P_EMIT_B, P_EMIT_SRGB, 0.0));

    vec3 l = normalize(vec3(pf(P_LIGHT_X), pf(P_LIGHT_Y), pf(P_LIGHT_Z)));
    vec3 vv = -d;
    vec3 hh = normalize(l + vv);
    float nl = max(dot(n, l), 0.0);
    float nv = max(dot(n, vv), 1e-4);
    float nh = max(dot(n, hh), 0.0);
    float vh = max(dot(vv, hh), 0.0);
    float a = rough * rough;
    float a2 = a * a;
    float dd = nh * nh * (a2 - 1.0) + 1.0;
    float ndf = a2 / (PI * dd * dd);
    float k = 0.5 * a;
    float g = (nl / (nl * (1.0 - k) + k)) * (nv / (nv * (1.0 - k) + k));
    vec3 f0 = mix(vec3(0.04), albedo, metal);
    vec3 fr = f0 + (1.0 - f0) * pow(1.0 - vh, 5.0);
    vec3 spec = ndf * g * fr / max(4.0 * nl * nv, 1e-4);
    vec3 kd = (1.0 - fr) * (1.0 - metal);
    vec3 direct = (kd * albedo / PI + spec) * (pf(P_LIGHT_E) * nl);
    vec3 ambient = pf(P_AMBIENT) * ao * mix(albedo, f0, metal);
    return direct + ambient + emit;
}

void main()
{
    uint s = pu(P_PANEL);
    uint x = gl_GlobalInvocationID.x;
    uint y = gl_GlobalInvocationID.y;
    if (x >= 2u * s || y >= s) return;
    bool plane = x >= s;
    vec2 pix = vec2(float(plane ? x - s : x) + 0.5, float(y) + 0.5);
    vec3 d = ray_dir(pix);
    Hit h = plane ? hit_plane(d) : hit_sphere(d);
    uint o = y * 2u * s + x;
    if (!h.ok) {
        outp[o] = vec4(vec3(pf(P_BACKGROUND)), 0.0);
        return;
    }
    vec2 ddx_uv = uv_delta(h, ray_dir(pix + vec2(1.0, 0.0)));
    vec2 ddy_uv = uv_delta(h, ray_dir(pix + vec2(0.0, 1.0)));
    float v[PREVIEW_MAX_CHANNELS];
    if (pu(P_MODE) == PREVIEW_MODE_TEXGS) sample_texgs(h.uv, ddx_uv, ddy_uv, v);
    else sample_source(h.uv, ddx_uv, ddy_uv, v);
    outp[o] = vec4(shade(h, d, v), 1.0);
}
