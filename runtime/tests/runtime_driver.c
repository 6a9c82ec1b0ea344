/* Test driver of texgs_runtime.h (tests/test_runtime_c.py builds and runs it).
 *
 *   runtime_driver info FILE                      header and channels as JSON, or the error
 *   runtime_driver point|uv|grad|level FILE IN OUT LOD
 *                                                 IN: float32 rows of (px, py) | (u, v) |
 *                                                 (u, v, ddx_u, ddx_v, ddy_u, ddy_v) | (u, v, level);
 *                                                 OUT: C float32 per row (NaN rows where the call returned 0)
 *   runtime_driver decode|decode_u8 FILE LEVEL LOD FLAGS THREADS OUT
 *                                                 a whole mip level, rows split between THREADS threads
 *   runtime_driver batch CASES                    CASES: (u32 length, bytes)*; one status code a line
 *
 * Exit status: 0 success, 3 the file was rejected (info), 1 usage or I/O error.
 */
#define TEXGS_RUNTIME_IMPLEMENTATION
#include "../texgs_runtime.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char* read_all(const char* path, size_t* size) {
    FILE* f = fopen(path, "rb");
    unsigned char* buf;
    long n;
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = (unsigned char*)malloc(n > 0 ? (size_t)n : 1u);
    if (buf && n > 0 && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *size = (size_t)(n > 0 ? n : 0);
    return buf;
}

static void json_string(const char* s, uint32_t n) {
    uint32_t i;
    putchar('"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static int info(const texgs_material* m) {
    uint32_t c;
    printf("{\"width\": %u, \"height\": %u, \"channels\": %u, \"k\": %u, \"flags\": %u, \"levels\": %u, ",
           m->width, m->height, m->channel_count, m->k, m->flags, m->levels);
    printf("\"gaussian_count\": %u, \"encoding\": %u, \"strip_height\": %u, \"max_level\": %u, ",
           m->gaussian_count, m->encoding, m->strip_height, texgs_max_level(m));
    printf("\"radius\": %.9g, \"record_bits\": %u, \"palette_count\": %u, \"channel_list\": [",
           (double)m->radius, m->record_bits, m->palette_count);
    for (c = 0; c < m->channel_count; c++) {
        const texgs_channel* ch = &m->channels[c];
        printf("%s{\"semantic\": \"%s\", \"colour_space\": \"%s\", \"range\": [%.9g, %.9g], ", c ? ", " : "",
               texgs_semantic_name(ch->semantic), texgs_colour_space_name(ch->colour_space),
               (double)ch->range_lo, (double)ch->range_hi);
        printf("\"background\": %.9g, \"value_bits\": %u, \"palette\": %u, \"name\": ",
               (double)ch->background, ch->value_bits, ch->palette);
        if (ch->name)
            json_string(ch->name, ch->name_len);
        else
            printf("null");
        printf(", \"group\": ");
        if (ch->group)
            json_string(ch->group, ch->group_len);
        else
            printf("null");
        printf("}");
    }
    printf("]}\n");
    return 0;
}

static int samples(const char* mode, const texgs_material* m, const char* in_path, const char* out_path,
                   uint32_t lod) {
    size_t size, rows, r;
    unsigned width = strcmp(mode, "grad") == 0 ? 6u : strcmp(mode, "level") == 0 ? 3u : 2u;
    float* in = (float*)read_all(in_path, &size);
    float* out;
    FILE* f;
    if (!in) return 1;
    rows = size / (sizeof(float) * width);
    out = (float*)malloc((rows ? rows : 1) * m->channel_count * sizeof(float));
    for (r = 0; r < rows; r++) {
        const float* a = in + r * width;
        float* o = out + r * m->channel_count;
        uint32_t got, c;
        if (strcmp(mode, "point") == 0)
            got = texgs_sample_point(m, a[0], a[1], lod, o);
        else if (strcmp(mode, "uv") == 0)
            got = texgs_sample(m, a[0], a[1], lod, o);
        else if (strcmp(mode, "grad") == 0)
            got = texgs_sample_grad(m, a[0], a[1], a[2], a[3], a[4], a[5], lod, o);
        else
            got = texgs_sample_level(m, a[0], a[1], a[2], lod, o);
        if (got == 0)
            for (c = 0; c < m->channel_count; c++) o[c] = NAN;
    }
    f = fopen(out_path, "wb");
    if (!f) return 1;
    fwrite(out, sizeof(float), rows * m->channel_count, f);
    fclose(f);
    free(in);
    free(out);
    return 0;
}

typedef struct job {
    const texgs_material* m;
    uint32_t level, lod, flags, row_begin, row_end, u8;
    void* out;
    size_t stride;
    texgs_status status;
} job;

static void* run_job(void* arg) {
    job* j = (job*)arg;
    texgs_error err;
    size_t off = (size_t)j->row_begin * j->stride;
    if (j->u8)
        j->status = texgs_decode_rows_u8(j->m, j->level, j->lod, j->row_begin, j->row_end,
                                         (unsigned char*)j->out + off, j->stride, &err);
    else
        j->status = texgs_decode_rows(j->m, j->level, j->lod, j->row_begin, j->row_end, (float*)j->out + off,
                                      j->stride, j->flags, &err);
    if (j->status != TEXGS_OK) fprintf(stderr, "decode: %s\n", err.message);
    return NULL;
}

static int decode(const texgs_material* m, int u8, uint32_t level, uint32_t lod, uint32_t flags,
                  uint32_t threads, const char* out_path) {
    uint32_t w, h, t;
    size_t stride, elem = u8 ? 1u : sizeof(float);
    void* out;
    job jobs[64];
    pthread_t tid[64];
    FILE* f;
    int bad = 0;
    if (!texgs_level_size(m, level, &w, &h) || threads < 1 || threads > 64) return 1;
    stride = (size_t)w * m->channel_count;
    out = malloc(stride * h * elem + 1);
    for (t = 0; t < threads; t++) {
        job* j = &jobs[t];
        j->m = m;
        j->level = level;
        j->lod = lod;
        j->flags = flags;
        j->u8 = (uint32_t)u8;
        j->out = out;
        j->stride = stride;
        j->row_begin = (uint32_t)((uint64_t)h * t / threads);
        j->row_end = (uint32_t)((uint64_t)h * (t + 1) / threads);
        pthread_create(&tid[t], NULL, run_job, j);
    }
    for (t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        bad |= jobs[t].status != TEXGS_OK;
    }
    if (bad) return 1;
    f = fopen(out_path, "wb");
    if (!f) return 1;
    fwrite(out, elem, stride * h, f);
    fclose(f);
    free(out);
    return 0;
}

static int batch(const char* path) {
    size_t size, at = 0;
    unsigned char* buf = read_all(path, &size);
    if (!buf) return 1;
    while (at + 4 <= size) {
        uint32_t n = (uint32_t)buf[at] | ((uint32_t)buf[at + 1] << 8) | ((uint32_t)buf[at + 2] << 16) |
                     ((uint32_t)buf[at + 3] << 24);
        texgs_material m;
        texgs_error err;
        unsigned char* copy;
        at += 4;
        if (n > size - at) return 1;
        /* an exact-size copy, so AddressSanitizer sees any read past the case's end */
        copy = (unsigned char*)malloc(n ? n : 1u);
        memcpy(copy, buf + at, n);
        printf("%d %s\n", (int)texgs_open(copy, n, &m, &err), err.message);
        free(copy);
        at += n;
    }
    free(buf);
    return 0;
}

int main(int argc, char** argv) {
    texgs_material m;
    texgs_error err;
    size_t size;
    unsigned char* data;
    int rc;
    if (argc == 3 && strcmp(argv[1], "batch") == 0) return batch(argv[2]);
    if (argc < 3) return 1;
    data = read_all(argv[2], &size);
    if (!data) return 1;
    if (texgs_open(data, size, &m, &err) != TEXGS_OK) {
        printf("{\"error\": %d, \"status\": \"%s\", \"message\": ", (int)err.status,
               texgs_status_name(err.status));
        json_string(err.message, (uint32_t)strlen(err.message));
        printf("}\n");
        free(data);
        return 3;
    }
    if (strcmp(argv[1], "info") == 0)
        rc = info(&m);
    else if (argc == 6)
        rc = samples(argv[1], &m, argv[3], argv[4], (uint32_t)atoi(argv[5]));
    else if (argc == 8)
        rc = decode(&m, strcmp(argv[1], "decode_u8") == 0, (uint32_t)atoi(argv[3]), (uint32_t)atoi(argv[4]),
                    (uint32_t)atoi(argv[5]), (uint32_t)atoi(argv[6]), argv[7]);
    else
        rc = 1;
    free(data);
    return rc;
}
