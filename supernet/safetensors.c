#include "supernet/safetensors.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/safe_file.h"

typedef struct Tensor {
    char name[128];
    int is_int64;
    int ndim;
    int64_t shape[4];
    size_t numel;
    size_t offset;   // bytes into the data section
    // where the values come from / go to
    int block;
    int param;       // block parameter index, or -1 for BN buffers
    int running;     // running pair index (BN buffers)
    int kind;        // 0 param, 1 running_mean, 2 running_var, 3 num_batches_tracked
} Tensor;

// PyTorch shape of a parameter in hwnas layout.
static int torch_shape(const ParamDesc* p, int64_t* shape) {
    switch (p->layout) {
    case LAYOUT_CONV_OHWI:
        shape[0] = p->dims[0], shape[1] = p->dims[3], shape[2] = p->dims[1], shape[3] = p->dims[2];
        return 4;
    case LAYOUT_DW_KKC:
        shape[0] = p->dims[2], shape[1] = 1, shape[2] = p->dims[0], shape[3] = p->dims[1];
        return 4;
    case LAYOUT_LINEAR:
        shape[0] = p->dims[0], shape[1] = p->dims[1], shape[2] = 1, shape[3] = 1;
        return p->is_conv ? 4 : 2;
    default: shape[0] = p->dims[0]; return 1;
    }
}

// hwnas layout <-> PyTorch layout for one parameter (to_torch selects direction).
static void convert(const ParamDesc* p, const float* src, float* dst, int to_torch) {
    if (p->layout == LAYOUT_CONV_OHWI) {
        int O = p->dims[0], K = p->dims[1], K2 = p->dims[2], I = p->dims[3];
        for (int o = 0; o < O; o++)
            for (int y = 0; y < K; y++)
                for (int x = 0; x < K2; x++)
                    for (int i = 0; i < I; i++) {
                        size_t ohwi = (((size_t)o * K + y) * K2 + x) * I + i;
                        size_t oihw = (((size_t)o * I + i) * K + y) * K2 + x;
                        if (to_torch) dst[oihw] = src[ohwi];
                        else dst[ohwi] = src[oihw];
                    }
    } else if (p->layout == LAYOUT_DW_KKC) {
        int K = p->dims[0], K2 = p->dims[1], C = p->dims[2];
        for (int y = 0; y < K; y++)
            for (int x = 0; x < K2; x++)
                for (int c = 0; c < C; c++) {
                    size_t kkc = ((size_t)y * K2 + x) * C + c, ckk = ((size_t)c * K + y) * K2 + x;
                    if (to_torch) dst[ckk] = src[kkc];
                    else dst[kkc] = src[ckk];
                }
    } else {
        memcpy(dst, src, p->numel * sizeof(float));
    }
}

static int add_tensor(Tensor** list, int* count, int* cap, Tensor t) {
    if (*count == *cap) {
        int ncap = *cap ? 2 * *cap : 64;
        Tensor* n = realloc(*list, (size_t)ncap * sizeof(Tensor));
        if (!n) return -1;
        *list = n, *cap = ncap;
    }
    (*list)[(*count)++] = t;
    return 0;
}

// The tensors of a subnet, in a fixed order, with offsets.
static Tensor* subnet_tensors(const Supernet* sn, const int* path, int* count) {
    Tensor* list = NULL;
    int cap = 0;
    size_t offset = 0;
    *count = 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        const Block* blk = &sn->blocks[b];
        for (int i = 0; i < blk->param_count; i++) {
            Tensor t = {0};
            supernet_param_name(sn, b, blk->params[i].name, 1, t.name, sizeof t.name);
            t.ndim = torch_shape(&blk->params[i], t.shape);
            t.numel = blk->params[i].numel;
            t.block = b, t.param = i, t.kind = 0;
            t.offset = offset;
            offset += t.numel * 4;
            if (add_tensor(&list, count, &cap, t) < 0) {
                free(list);
                return NULL;
            }
        }
        for (int i = 0; i < blk->running_count; i++) {
            static const char* const suffix[] = {"", ".running_mean", ".running_var", ".num_batches_tracked"};
            for (int k = 1; k <= 3; k++) {
                Tensor t = {0};
                char base[128];
                supernet_param_name(sn, b, blk->running_names[i], 1, base, sizeof base);
                snprintf(t.name, sizeof t.name, "%.100s%s", base, suffix[k]);
                t.is_int64 = k == 3;
                t.ndim = k == 3 ? 0 : 1;
                t.shape[0] = blk->running_channels[i];
                t.numel = k == 3 ? 1 : (size_t)blk->running_channels[i];
                t.block = b, t.param = -1, t.running = i, t.kind = k;
                t.offset = offset;
                offset += t.numel * (t.is_int64 ? 8 : 4);
                if (add_tensor(&list, count, &cap, t) < 0) {
                    free(list);
                    return NULL;
                }
            }
        }
    }
    return list;
}

static size_t running_offset_of(const Block* blk, int index) {
    size_t off = 0;
    for (int i = 0; i < index; i++) off += 2 * (size_t)blk->running_channels[i];
    return off;
}

int safetensors_write_subnet(const Supernet* sn, const int* path, const char* file, HwErr* err) {
    int count = 0;
    Tensor* ts = subnet_tensors(sn, path, &count);
    float* params = malloc(sn->param_floats * sizeof(float) + 4);
    float* running = malloc(sn->running_floats * sizeof(float) + 4);
    char* header = NULL;
    unsigned char* data = NULL;
    SafeFile out;
    int rc = -1;
    if (!ts || !params || !running) {
        hw_runtime(err, file, 0, "out of memory");
        goto done;
    }
    sn->ops->download(&sn->ctx, params, sn->params, sn->param_floats * sizeof(float));
    sn->ops->download(&sn->ctx, running, sn->running, sn->running_floats * sizeof(float));
    size_t data_bytes = count ? ts[count - 1].offset + ts[count - 1].numel * (ts[count - 1].is_int64 ? 8 : 4) : 0;
    size_t cap = (size_t)count * 256 + 512, len = 0;
    header = malloc(cap);
    data = calloc(1, data_bytes + 8);
    if (!header || !data) {
        hw_runtime(err, file, 0, "out of memory");
        goto done;
    }
    len += (size_t)snprintf(header + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\",\"producer\":\"hwnas\"}");
    for (int i = 0; i < count; i++) {
        const Tensor* t = &ts[i];
        const Block* blk = &sn->blocks[t->block];
        size_t bytes = t->numel * (t->is_int64 ? 8 : 4);
        len += (size_t)snprintf(header + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[", t->name,
                                t->is_int64 ? "I64" : "F32");
        for (int d = 0; d < t->ndim; d++) len += (size_t)snprintf(header + len, cap - len, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        len += (size_t)snprintf(header + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", t->offset, t->offset + bytes);
        if (t->kind == 0) {
            const ParamDesc* p = &blk->params[t->param];
            convert(p, params + sn->param_offset[t->block] + p->offset, (float*)(data + t->offset), 1);
        } else if (t->kind == 3) {
            int64_t v = sn->bn_batches[t->block];
            memcpy(data + t->offset, &v, 8);
        } else {
            const float* r = running + sn->running_offset[t->block] + running_offset_of(blk, t->running);
            memcpy(data + t->offset, r + (t->kind == 2 ? t->numel : 0), bytes);
        }
    }
    len += (size_t)snprintf(header + len, cap - len, "}");
    while (len % 8) header[len++] = ' ';  // data starts 8-byte aligned
    // A temporary file beside `file`, renamed over it when complete.
    if (safe_file_begin(&out, file, err) < 0) goto done;
    uint64_t hlen = len;
    safe_file_write(&out, &hlen, 8);
    safe_file_write(&out, header, len);
    safe_file_write(&out, data, data_bytes);
    rc = safe_file_commit(&out, err);
done:
    free(ts);
    free(params);
    free(running);
    free(header);
    free(data);
    return rc;
}

// ------------------------------------------------------------------ reading

typedef struct Json {
    const char* s;
    size_t n, i;
} Json;

static void ws(Json* j) {
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\n' || j->s[j->i] == '\r' || j->s[j->i] == '\t')) j->i++;
}

static int expect(Json* j, char c) {
    ws(j);
    if (j->i >= j->n || j->s[j->i] != c) return -1;
    j->i++;
    return 0;
}

static int json_string(Json* j, char* out, size_t cap) {
    if (expect(j, '"') < 0) return -1;
    size_t k = 0;
    while (j->i < j->n && j->s[j->i] != '"') {
        char c = j->s[j->i++];
        if (c == '\\') {
            if (j->i >= j->n) return -1;
            c = j->s[j->i++];
            if (c == 'u') {  // keep escapes verbatim-free: only ASCII names are ours
                if (j->i + 4 > j->n) return -1;
                j->i += 4;
                c = '?';
            }
        }
        if (k + 1 >= cap) return -1;
        out[k++] = c;
    }
    if (j->i >= j->n) return -1;
    j->i++;
    out[k] = 0;
    return 0;
}

static int json_int(Json* j, int64_t* v) {
    ws(j);
    size_t start = j->i;
    int64_t x = 0;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') {
        if (x > (INT64_MAX - 9) / 10) return -1;
        x = x * 10 + (j->s[j->i++] - '0');
    }
    if (j->i == start) return -1;
    *v = x;
    return 0;
}

static int json_int_list(Json* j, int64_t* out, int cap, int* count) {
    *count = 0;
    if (expect(j, '[') < 0) return -1;
    ws(j);
    if (j->i < j->n && j->s[j->i] == ']') {
        j->i++;
        return 0;
    }
    for (;;) {
        if (*count >= cap || json_int(j, &out[(*count)++]) < 0) return -1;
        ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        return expect(j, ']');
    }
}

// Skips a string-to-string object (the metadata).
static int json_skip_metadata(Json* j) {
    char buf[4096];
    if (expect(j, '{') < 0) return -1;
    ws(j);
    if (j->i < j->n && j->s[j->i] == '}') {
        j->i++;
        return 0;
    }
    for (;;) {
        if (json_string(j, buf, sizeof buf) < 0 || expect(j, ':') < 0 || json_string(j, buf, sizeof buf) < 0) return -1;
        ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        return expect(j, '}');
    }
}

typedef struct Entry {
    char name[128];
    char dtype[8];
    int64_t shape[8];
    int ndim;
    int64_t begin, end;
    int used;
} Entry;

static int parse_entry(Json* j, Entry* e) {
    char key[32];
    int have = 0;
    if (expect(j, '{') < 0) return -1;
    for (;;) {
        if (json_string(j, key, sizeof key) < 0 || expect(j, ':') < 0) return -1;
        if (!strcmp(key, "dtype")) {
            if (json_string(j, e->dtype, sizeof e->dtype) < 0) return -1;
            have |= 1;
        } else if (!strcmp(key, "shape")) {
            if (json_int_list(j, e->shape, 8, &e->ndim) < 0) return -1;
            have |= 2;
        } else if (!strcmp(key, "data_offsets")) {
            int64_t off[2];
            int n;
            if (json_int_list(j, off, 2, &n) < 0 || n != 2) return -1;
            e->begin = off[0], e->end = off[1];
            have |= 4;
        } else {
            return -1;
        }
        ws(j);
        if (j->i < j->n && j->s[j->i] == ',') {
            j->i++;
            continue;
        }
        return (expect(j, '}') == 0 && have == 7) ? 0 : -1;
    }
}

// -1 when malformed, -2 past LIMIT_SAFETENSORS_TENSORS.
static int parse_header(const char* text, size_t len, Entry** out, int* count) {
    Json j = {text, len, 0};
    int cap = 0;
    *out = NULL;
    *count = 0;
    if (expect(&j, '{') < 0) return -1;
    ws(&j);
    if (j.i < j.n && j.s[j.i] == '}') return 0;
    for (;;) {
        char name[128];
        if (json_string(&j, name, sizeof name) < 0 || expect(&j, ':') < 0) return -1;
        if (!strcmp(name, "__metadata__")) {
            if (json_skip_metadata(&j) < 0) return -1;
        } else {
            if (*count >= LIMIT_SAFETENSORS_TENSORS) return -2;
            if (*count == cap) {
                cap = cap ? 2 * cap : 64;
                Entry* n = realloc(*out, (size_t)cap * sizeof(Entry));
                if (!n) return -1;
                *out = n;
            }
            Entry* e = &(*out)[(*count)++];
            memset(e, 0, sizeof *e);
            snprintf(e->name, sizeof e->name, "%s", name);
            if (parse_entry(&j, e) < 0) return -1;
        }
        ws(&j);
        if (j.i < j.n && j.s[j.i] == ',') {
            j.i++;
            continue;
        }
        return expect(&j, '}');
    }
}

// A safetensors file in memory: its JSON header (NUL-terminated) and the
// data bytes after it.
typedef struct StFile {
    char* header;
    size_t header_len;
    unsigned char* data;
    size_t data_bytes;
} StFile;

static void st_file_free(StFile* f) {
    free(f->header);
    free(f->data);
}

static int st_file_read(const char* file, StFile* out, HwErr* err) {
    memset(out, 0, sizeof *out);
    FILE* fp = fopen(file, "rb");
    if (!fp) return hw_bad_input(err, file, 0, "cannot open: %s", strerror(errno));
    uint64_t hlen = 0;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0) size = ftell(fp);
    rewind(fp);
    int rc = 0;
    if (size < 8 || fread(&hlen, 8, 1, fp) != 1) {
        rc = hw_bad_input(err, file, 0, "not a safetensors file (shorter than its 8-byte header length)");
    } else if (hlen > (uint64_t)size - 8 || hlen > (uint64_t)LIMIT_SAFETENSORS_HEADER_BYTES) {
        rc = hw_bad_input(err, file, 0,
                          "bytes 0-7 declare a header of %llu bytes, expected at most %lld and at most the %ld "
                          "bytes after them (LIMIT_SAFETENSORS_HEADER_BYTES)",
                          (unsigned long long)hlen, (long long)LIMIT_SAFETENSORS_HEADER_BYTES, size - 8);
    } else {
        out->header_len = (size_t)hlen;
        out->data_bytes = (size_t)size - 8 - (size_t)hlen;
        out->header = malloc(out->header_len + 1);
        out->data = malloc(out->data_bytes + 1);
        if (!out->header || !out->data)
            rc = hw_runtime(err, file, 0, "out of memory");
        else if (fread(out->header, 1, out->header_len, fp) != out->header_len ||
                 fread(out->data, 1, out->data_bytes, fp) != out->data_bytes)
            rc = hw_bad_input(err, file, 0, "truncated safetensors file");
        else
            out->header[out->header_len] = 0;
    }
    fclose(fp);
    if (rc < 0) st_file_free(out);
    return rc;
}

// The header entry of tensor t, marked used; NULL with err when absent or
// when its dtype, shape or data range is not t's.
static Entry* matching_entry(const char* file, const Tensor* t, Entry* entries, int count, size_t data_bytes,
                             HwErr* err) {
    Entry* e = NULL;
    for (int k = 0; k < count && !e; k++)
        if (!strcmp(entries[k].name, t->name)) e = &entries[k];
    if (!e) {
        hw_bad_input(err, file, 0, "missing tensor %s (the architecture and the weights differ)", t->name);
        return NULL;
    }
    e->used = 1;
    const char* want_dtype = t->is_int64 ? "I64" : "F32";
    int shape_ok = e->ndim == t->ndim;
    for (int d = 0; shape_ok && d < t->ndim; d++) shape_ok = e->shape[d] == t->shape[d];
    size_t bytes = t->numel * (t->is_int64 ? 8 : 4);
    if (strcmp(e->dtype, want_dtype) != 0 || !shape_ok) {
        hw_bad_input(err, file, 0, "tensor %s: found dtype %s with %d dims, expected %s of shape %lld%s", t->name,
                     e->dtype, e->ndim, want_dtype, (long long)t->shape[0], t->ndim > 1 ? "x..." : "");
        return NULL;
    }
    if (e->begin < 0 || e->end < e->begin || (uint64_t)e->end > data_bytes || (size_t)(e->end - e->begin) != bytes) {
        hw_bad_input(err, file, 0, "tensor %s: data_offsets [%lld, %lld] outside the %zu data bytes or of the wrong size",
                     t->name, (long long)e->begin, (long long)e->end, data_bytes);
        return NULL;
    }
    return e;
}

// Copies one tensor's bytes into the host copies of the weights (converted
// to hwnas's layout) or of the BN statistics.
static int load_tensor(Supernet* sn, const Tensor* t, const unsigned char* src, float* params, float* running,
                       HwErr* err) {
    const Block* blk = &sn->blocks[t->block];
    size_t bytes = t->numel * (t->is_int64 ? 8 : 4);
    if (t->kind == 0) {
        const ParamDesc* p = &blk->params[t->param];
        float* tmp = malloc(bytes + 4);
        if (!tmp) return hw_runtime(err, NULL, 0, "out of memory for tensor %s", t->name);
        memcpy(tmp, src, bytes);
        convert(p, tmp, params + sn->param_offset[t->block] + p->offset, 0);
        free(tmp);
    } else if (t->kind == 3) {
        int64_t v;
        memcpy(&v, src, 8);
        sn->bn_batches[t->block] = v;
    } else {
        float* r = running + sn->running_offset[t->block] + running_offset_of(blk, t->running);
        memcpy(r + (t->kind == 2 ? t->numel : 0), src, bytes);
    }
    return 0;
}

// Every tensor of the subnet from the file's entries into the host copies;
// an entry the subnet does not have is an error too.
static int load_tensors(Supernet* sn, const Tensor* ts, int ntensors, Entry* entries, int count, const StFile* f,
                        const char* file, float* params, float* running, HwErr* err) {
    for (int i = 0; i < ntensors; i++) {
        const Entry* e = matching_entry(file, &ts[i], entries, count, f->data_bytes, err);
        if (!e || load_tensor(sn, &ts[i], f->data + e->begin, params, running, err) < 0) return -1;
    }
    for (int k = 0; k < count; k++)
        if (!entries[k].used)
            return hw_bad_input(err, file, 0, "unexpected tensor %s (the architecture and the weights differ)",
                                entries[k].name);
    return 0;
}

int safetensors_read_subnet(Supernet* sn, const int* path, const char* file, HwErr* err) {
    StFile f;
    if (st_file_read(file, &f, err) < 0) return -1;
    Entry* entries = NULL;
    int count = 0, ntensors = 0, rc = -1;
    Tensor* ts = NULL;
    float* params = NULL;
    float* running = NULL;
    int parsed = parse_header(f.header, f.header_len, &entries, &count);
    if (parsed == -2) {
        hw_bad_input(err, file, 0, "header lists more than %d tensors, expected at most %d (LIMIT_SAFETENSORS_TENSORS)",
                     LIMIT_SAFETENSORS_TENSORS, LIMIT_SAFETENSORS_TENSORS);
        goto done;
    }
    if (parsed < 0) {
        hw_bad_input(err, file, 0, "malformed safetensors header (expected JSON with dtype, shape, data_offsets)");
        goto done;
    }
    ts = subnet_tensors(sn, path, &ntensors);
    params = malloc(sn->param_floats * sizeof(float) + 4);
    running = malloc(sn->running_floats * sizeof(float) + 4);
    if (!ts || !params || !running) {
        hw_runtime(err, file, 0, "out of memory");
        goto done;
    }
    // Blocks off the path keep their weights.
    sn->ops->download(&sn->ctx, params, sn->params, sn->param_floats * sizeof(float));
    sn->ops->download(&sn->ctx, running, sn->running, sn->running_floats * sizeof(float));
    if (load_tensors(sn, ts, ntensors, entries, count, &f, file, params, running, err) < 0) goto done;
    sn->ops->upload(&sn->ctx, sn->params, params, sn->param_floats * sizeof(float));
    sn->ops->upload(&sn->ctx, sn->running, running, sn->running_floats * sizeof(float));
    rc = 0;
done:
    st_file_free(&f);
    free(entries);
    free(ts);
    free(params);
    free(running);
    return rc;
}
