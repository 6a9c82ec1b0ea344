/* libFuzzer target of texgs_runtime.h (runtime/tests/fuzz_runtime.py builds and runs it):
 *     clang -g -O1 -fsanitize=fuzzer,address,undefined fuzz_open.c -o fuzz_open -lm
 *
 * Every input is opened twice: as it is, and with its CRCs recomputed (as benchmarks/fuzz_reader.py's
 * repair_crcs does; without it nearly every mutation stops at a checksum). An accepted one is sampled (point,
 * UV, filtered, mip level) and a few rows of two of its levels decoded, and every value must be finite and
 * inside the unit range (the invariant of docs/FORMAT.md: a file the reader accepts decodes to finite values
 * everywhere). A rejection must come with a status and a message. Anything else aborts, which libFuzzer
 * reports as a crash; the sanitizers report any read outside the input.
 */
#define TEXGS_RUNTIME_IMPLEMENTATION
#include "../texgs_runtime.h"

#include <stdlib.h>

#define ROW_VALUES 8192 /* rows of at most this many values are decoded */

static void check_values(const texgs_material* m, const float* v, uint32_t n) {
    uint32_t c;
    if (n != m->channel_count) abort();
    for (c = 0; c < n; c++)
        if (!(v[c] >= -1e-5f && v[c] <= 1.0f + 1e-5f)) abort();
}

static void put_u32(unsigned char* p, uint32_t v) {
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* fuzz_reader.repair_crcs: every section CRC the table can locate, then the header CRC. */
static void repair_crcs(unsigned char* d, size_t size) {
    uint32_t n, t0, j;
    if (size < TEXGS_HEADER_BYTES) return;
    n = texgs__u32(d + 4 * TEXGS_H_SECTION_COUNT);
    t0 = texgs__u32(d + 4 * TEXGS_H_SECTION_TABLE_OFFSET);
    for (j = 0; j < n && j < TEXGS_MAX_SECTIONS; j++) {
        uint64_t e = (uint64_t)t0 + 16u * j;
        uint32_t off, sz;
        if (e + 16u > size) break;
        off = texgs__u32(d + e + 4);
        sz = texgs__u32(d + e + 8);
        if ((uint64_t)off + sz <= size) put_u32(d + e + 12, texgs__crc32(d + off, sz));
    }
    put_u32(d + TEXGS_HEADER_CRC_SPAN, texgs__crc32(d, TEXGS_HEADER_CRC_SPAN));
}

static void check_one(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    unsigned char* copy;
    check_one(data, size);
    if (size < TEXGS_HEADER_BYTES) return 0;
    copy = (unsigned char*)malloc(size);
    if (!copy) abort();
    memcpy(copy, data, size);
    repair_crcs(copy, size);
    check_one(copy, size);
    free(copy);
    return 0;
}

static void check_one(const uint8_t* data, size_t size) {
    texgs_material m;
    texgs_error err;
    static float row[ROW_VALUES]; /* libFuzzer runs one input at a time */
    static unsigned char row8[ROW_VALUES];
    float v[TEXGS_LIMIT_CHANNELS];
    uint32_t i, level;
    texgs_status st = texgs_open(data, size, &m, &err);
    if (st != TEXGS_OK) {
        if (err.status != st || err.message[0] == '\0') abort();
        return;
    }
    /* Sample points derived from the input's length: deterministic per input. */
    for (i = 0; i < 8; i++) {
        float u = (float)((size * 2654435761u + i * 40503u) % 3001u) / 1000.0f - 1.0f;
        float w = (float)((size * 40503u + i * 2654435761u) % 3001u) / 1000.0f - 1.0f;
        uint32_t lod = i % (m.levels + 1u);
        check_values(&m, v, texgs_sample(&m, u, w, lod, v));
        check_values(&m, v, texgs_sample_point(&m, u * (float)m.width, w * (float)m.height, lod, v));
        check_values(
            &m, v, texgs_sample_grad(&m, u, w, 0.01f * (float)i, 0.003f, -0.002f, 0.02f * (float)i, lod, v));
        check_values(&m, v, texgs_sample_level(&m, u, w, 1.5f * (float)i, lod, v));
    }
    for (level = 0; level <= 2 && level <= texgs_max_level(&m); level += 2) {
        uint32_t lw, lh, x;
        texgs_level_size(&m, level, &lw, &lh);
        if ((uint64_t)lw * m.channel_count > ROW_VALUES) continue;
        /* the level's first row as stored values (ranges applied: finite), its last row as 8-bit */
        if (texgs_decode_rows(&m, level, 0, 0, 1, row, ROW_VALUES, TEXGS_DECODE_APPLY_RANGE, &err) !=
            TEXGS_OK)
            abort();
        for (x = 0; x < lw * m.channel_count; x++)
            if (!(row[x] == row[x] && row[x] - row[x] == 0.0f)) abort();
        if (texgs_decode_rows_u8(&m, level, 0, lh - 1u, lh, row8, ROW_VALUES, &err) != TEXGS_OK) abort();
    }
}
