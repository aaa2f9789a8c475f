// Writes the seed corpus of the binary formats into DIR/<target>/: a
// checkpoint and subnet weights of the tiny supernet (and the checkpoints'
// headers and configs for fuzz_checkpoint_body), a search.csv, IDX images
// and labels, PNG, BMP, PGM and JPEG images, an image-folder cache, the
// timing CSV of every block of the tiny space and subnet choices for the
// ONNX export.
// The text formats come from the project's own files (tests/fuzz/seeds.sh).
// Usage: make_seeds DIR (from the repository root).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include "common/config.h"
#include "data/imagefolder.h"
#include "search/lut_csv.h"
#include "search/search_csv.h"
#include "supernet/checkpoint.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

int stbi_write_png(const char* name, int w, int h, int comp, const void* data, int stride);
int stbi_write_bmp(const char* name, int w, int h, int comp, const void* data);

static char g_dir[512];

static const char* seed_path(const char* target, const char* name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_dir, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", g_dir, target, name);
    return path;
}

static int write_bytes(const char* path, const void* data, size_t n) {
    FILE* fp = fopen(path, "wb");
    if (!fp) return -1;
    size_t done = fwrite(data, 1, n, fp);
    return fclose(fp) == 0 && done == n ? 0 : -1;
}

static unsigned char* read_bytes(const char* path, size_t* n) {
    FILE* fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char* buf = NULL;
    long len = fseek(fp, 0, SEEK_END) == 0 ? ftell(fp) : -1;
    if (len >= 0 && fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len + 1)) &&
        fread(buf, 1, (size_t)len, fp) != (size_t)len)
        free(buf), buf = NULL;
    fclose(fp);
    *n = buf ? (size_t)len : 0;
    return buf;
}

// fuzz_checkpoint_body's input from a checkpoint file: a mode byte, then the
// header after the magic and the config text (no weights, no CRC).
static int seed_checkpoint_body(const char* ckpt, unsigned char mode, const char* name) {
    size_t n = 0;
    unsigned char* buf = read_bytes(ckpt, &n);
    uint32_t config_bytes = 0;
    if (!buf || n < 52) return free(buf), -1;
    memcpy(&config_bytes, buf + 48, 4);
    if (52 + (size_t)config_bytes > n) return free(buf), -1;
    buf[7] = mode;  // over the magic's last byte: the seed starts there
    int rc = write_bytes(seed_path("checkpoint_body", name), buf + 7, 1 + 44 + (size_t)config_bytes);
    free(buf);
    return rc;
}

// The resolved config a run saves in its checkpoints (config_write's text).
static char* resolved_config(const char* config, HwErr* err) {
    static Config cfg;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/tmp-config.yaml", g_dir);
    config_defaults(&cfg);
    if (config_load(&cfg, config, err) < 0 || config_write(&cfg, tmp, err) < 0) return NULL;
    size_t n = 0;
    char* text = (char*)read_bytes(tmp, &n);
    remove(tmp);
    if (text) text[n] = 0;
    return text;
}

// Checkpoints at step 5 = epoch 1 x 3 batches + batch 2: the mode byte's
// batches (3, bits 4..7) make the state check pass.
static int seed_checkpoints(const Supernet* sn, HwErr* err) {
    TrainState st = {5, 1, 2};
    char small[1024];  // (seed_path's buffer is reused by the next call)
    snprintf(small, sizeof small, "%s", seed_path("checkpoint", "tiny.ckpt"));
    if (checkpoint_save(small, sn, &st, "train:\n  epochs: 2\n", err) < 0) return -1;
    if (seed_checkpoint_body(small, 0x30, "tiny-state") < 0 || seed_checkpoint_body(small, 0x01, "tiny-sizes") < 0)
        return hw_runtime(err, small, 0, "cannot read the checkpoint back");
    char* config = resolved_config("tests/configs/smoke.yaml", err);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/tmp-smoke.ckpt", g_dir);
    int rc = config && checkpoint_save(tmp, sn, &st, config, err) == 0 ? 0 : -1;
    if (rc == 0 && seed_checkpoint_body(tmp, 0x30, "smoke-config") < 0)
        rc = hw_runtime(err, tmp, 0, "cannot read the checkpoint back");
    remove(tmp);
    free(config);
    return rc;
}

static int seed_supernet_files(void) {
    HwErr err = {0};
    Space space;
    OpContext ctx = {1, NULL};
    if (space_load(&space, "tests/spaces/tiny.yaml", &err) < 0) return fprintf(stderr, "%s\n", err.msg), -1;
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, 2, &err);
    if (!sn || supernet_init_params(sn, 3, &err) < 0) return fprintf(stderr, "%s\n", err.msg), -1;
    int path[SPACE_MAX_LAYERS] = {0};
    int rc = seed_checkpoints(sn, &err);
    if (rc == 0) rc = safetensors_write_subnet(sn, path, seed_path("safetensors", "tiny_path0.safetensors"), &err);
    if (rc < 0) fprintf(stderr, "%s\n", err.msg);
    supernet_destroy(sn);
    return rc;
}

static int seed_search_csv(void) {
    static const char* const layer_ops[] = {"mb_k3_e3", "mb_k5_e6", "skip", "sep_k3", "shuffle_x"};
    const char* const* names[3] = {layer_ops, layer_ops, layer_ops};
    int n_ops[3] = {5, 5, 5};
    SearchNames sn = {3, n_ops, names};
    Candidate c = {.ops = {0, 2, 4}, .latency_ms = 1.25, .cost = {120000, 35.5, 98.0}, .top1 = 0.5, .top5 = 0.75,
                   .generation = 0, .origin = "mutation"};
    HwErr err = {0};
    const char* path = seed_path("search_csv", "search.csv");
    remove(path);
    if (search_csv_append(path, &c, &sn, &err) < 0) return fprintf(stderr, "%s\n", err.msg), -1;
    c.ops[0] = 1, c.generation = -1, strcpy(c.origin, "random");
    return search_csv_append(path, &c, &sn, &err);
}

// The CSV a runtime gives for `hwnas latency export-blocks`'s manifest of
// tests/spaces/tiny.yaml (tools/ort_time.js: the manifest's columns, then
// ms, std, n), and the shortest form (layer, op, ms in another order).
static int seed_lut_csv(void) {
    HwErr err = {0};
    Space space;
    BlockRow* rows = NULL;
    int n = 0;
    if (space_load(&space, "tests/spaces/tiny.yaml", &err) < 0 || lut_csv_rows(&space, &rows, &n, &err) < 0)
        return fprintf(stderr, "%s\n", err.msg), -1;
    FILE* full = fopen(seed_path("lut_csv", "timings.csv"), "w");
    FILE* brief = fopen(seed_path("lut_csv", "short.csv"), "w");
    if (full && brief) {
        fprintf(full, "layer,op,key,file,input,ms,std,n\n");
        fprintf(brief, "ms,op,layer\n");
        for (int i = 0; i < n; i++) {
            const BlockRow* r = &rows[i];
            fprintf(full, "%s,%s,%s,b%03d_%s_%s.onnx,1x%dx%dx%d,%.6g,%.4g,%d\n", r->layer_name, r->op_name, r->key, i,
                    r->layer_name, r->op_name, r->in_c, r->in_h, r->in_w, 0.01 * (i + 1), 0.001 * i, 20);
            fprintf(brief, "%.3g,%s,%s\n", 0.5 + i, r->op_name, r->layer_name);
        }
    }
    int rc = full && brief ? 0 : -1;
    if (full && fclose(full) != 0) rc = -1;
    if (brief && fclose(brief) != 0) rc = -1;
    free(rows);
    return rc;
}

// Subnets for fuzz_onnx_roundtrip: opset byte, batch byte, one byte per
// layer; together they pick every operator of the pool at least once.
static int seed_onnx_roundtrip(void) {
    for (int k = 0; k < 8; k++) {
        unsigned char choice[2 + 4] = {(unsigned char)k, (unsigned char)k};
        for (int l = 0; l < 4; l++) choice[2 + l] = (unsigned char)(4 * k + l);
        char name[32];
        snprintf(name, sizeof name, "subnet-%d", k);
        if (write_bytes(seed_path("onnx_roundtrip", name), choice, sizeof choice) < 0) return -1;
    }
    return 0;
}

// IDX: big-endian magic 0x00000803 (images) / 0x00000801 (labels).
static int seed_idx(void) {
    unsigned char images[16 + 2 * 4 * 4] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 4};
    unsigned char labels[1 + 8 + 2] = {1, 0, 0, 8, 1, 0, 0, 0, 2, 3, 7};  // first byte: 1 = labels
    unsigned char img_seed[1 + sizeof images];
    for (size_t i = 16; i < sizeof images; i++) images[i] = (unsigned char)(i * 13);
    img_seed[0] = 0;
    memcpy(img_seed + 1, images, sizeof images);
    if (write_bytes(seed_path("idx", "images"), img_seed, sizeof img_seed) < 0) return -1;
    return write_bytes(seed_path("idx", "labels"), labels, sizeof labels);
}

// Image seeds carry the 8 parameter bytes of fuzz_image first.
static int seed_image_file(const char* name, const char* tmp) {
    FILE* fp = fopen(tmp, "rb");
    if (!fp) return -1;
    static unsigned char buf[1 << 16];
    unsigned char params[8] = {1, 3, 15, 40, 30, 20, 7, 9};
    memcpy(buf, params, 8);
    size_t n = fread(buf + 8, 1, sizeof buf - 8, fp);
    fclose(fp);
    remove(tmp);
    return write_bytes(seed_path("image", name), buf, n + 8);
}

static int seed_images(void) {
    unsigned char rgb[12 * 9 * 3];
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (unsigned char)(i * 7);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s/tmp-image", g_dir);
    if (!stbi_write_png(tmp, 12, 9, 3, rgb, 36) || seed_image_file("rgb.png", tmp) < 0) return -1;
    if (!stbi_write_bmp(tmp, 12, 9, 1, rgb) || seed_image_file("gray.bmp", tmp) < 0) return -1;
    const char pgm[] = "P5\n3 2\n255\n\x01\x02\x03\x04\x05\x06";
    if (write_bytes(tmp, pgm, sizeof pgm - 1) < 0 || seed_image_file("small.pgm", tmp) < 0) return -1;
    tjhandle tj = tjInitCompress();
    unsigned char* jpeg = NULL;
    unsigned long size = 0;
    int rc = tj && tjCompress2(tj, rgb, 12, 36, 9, TJPF_RGB, &jpeg, &size, TJSAMP_420, 80, 0) == 0 ? 0 : -1;
    if (rc == 0) rc = write_bytes(tmp, jpeg, size);
    if (rc == 0) rc = seed_image_file("rgb.jpg", tmp);
    tjFree(jpeg);
    if (tj) tjDestroy(tj);
    return rc;
}

// A folder like fuzz_imagefolder_cache's, scanned once to write its cache.
static int seed_imagefolder_cache(void) {
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/tmp-folder", g_dir);
    mkdir(dir, 0755);
    const char* files[] = {"a/1.png", "a/2.jpg", "b/3.bmp"};
    snprintf(path, sizeof path, "%s/a", dir), mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/b", dir), mkdir(path, 0755);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (write_bytes(path, "x", 1) < 0) return -1;
    }
    ImageList list;
    memset(&list, 0, sizeof list);
    HwErr err = {0};
    if (imagefolder_scan(dir, NULL, 0, seed_path("imagefolder_cache", "cache"), &list, &err) < 0)
        return fprintf(stderr, "%s\n", err.msg), -1;
    image_list_free(&list);
    return 0;
}

int main(int argc, char** argv) {
    if (argc != 2) return fprintf(stderr, "usage: make_seeds DIR\n"), 2;
    snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
    mkdir(g_dir, 0755);
    if (seed_supernet_files() < 0 || seed_search_csv() < 0 || seed_idx() < 0 || seed_images() < 0 ||
        seed_imagefolder_cache() < 0 || seed_lut_csv() < 0 || seed_onnx_roundtrip() < 0)
        return fprintf(stderr, "make_seeds: could not write the seeds in %s\n", g_dir), 1;
    return 0;
}
