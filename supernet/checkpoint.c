#include "supernet/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static const char kMagic[8] = {'H', 'W', 'N', 'A', 'S', 'C', 'K', 0};

typedef struct Writer {
    FILE* fp;
    uLong crc;
    int failed;
} Writer;

static void put(Writer* w, const void* data, size_t bytes) {
    if (w->failed || !bytes) return;
    if (fwrite(data, 1, bytes, w->fp) != bytes) w->failed = 1;
    w->crc = crc32(w->crc, data, (uInt)bytes);
}

// Large buffers go through a bounce buffer because on CUDA they are device memory.
static void put_backend(Writer* w, const Supernet* sn, const float* src, size_t floats) {
    enum { CHUNK = 1 << 20 };
    float* bounce = malloc(CHUNK * sizeof(float));
    if (!bounce) {
        w->failed = 1;
        return;
    }
    for (size_t done = 0; done < floats; done += CHUNK) {
        size_t n = floats - done < CHUNK ? floats - done : CHUNK;
        sn->ops->download(&sn->ctx, bounce, src + done, n * sizeof(float));
        put(w, bounce, n * sizeof(float));
    }
    free(bounce);
}

static int fsync_dir_of(const char* path) {
    char* copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY);
    free(copy);
    if (fd < 0) return -1;
    fsync(fd);
    close(fd);
    return 0;
}

int checkpoint_save(const char* path, const Supernet* sn, const TrainState* st, const char* config_text,
                    HwErr* err) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    Writer w = {fopen(tmp, "wb"), crc32(0, NULL, 0), 0};
    if (!w.fp) return hw_runtime(err, tmp, 0, "cannot write checkpoint: %s", strerror(errno));
    uint32_t version = CHECKPOINT_VERSION, n_blocks = (uint32_t)sn->n_blocks;
    uint32_t config_bytes = config_text ? (uint32_t)strlen(config_text) : 0;
    uint64_t pf = sn->param_floats, rf = sn->running_floats;
    put(&w, kMagic, 8);
    put(&w, &version, 4);
    put(&w, &st->step, 8);
    put(&w, &st->epoch, 4);
    put(&w, &st->batch_in_epoch, 4);
    put(&w, &pf, 8);
    put(&w, &rf, 8);
    put(&w, &n_blocks, 4);
    put(&w, &config_bytes, 4);
    put(&w, config_text, config_bytes);
    put_backend(&w, sn, sn->params, sn->param_floats);
    put_backend(&w, sn, sn->momentum, sn->param_floats);
    put_backend(&w, sn, sn->running, sn->running_floats);
    put(&w, sn->bn_batches, sizeof(int64_t) * sn->n_blocks);
    uint32_t crc = (uint32_t)w.crc;
    if (!w.failed && fwrite(&crc, 4, 1, w.fp) != 1) w.failed = 1;
    if (!w.failed && (fflush(w.fp) != 0 || fsync(fileno(w.fp)) != 0)) w.failed = 1;
    if (fclose(w.fp) != 0) w.failed = 1;
    if (w.failed || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return hw_runtime(err, path, 0, "cannot write checkpoint: %s", strerror(e));
    }
    fsync_dir_of(path);
    return 0;
}

typedef struct Reader {
    const unsigned char* data;
    size_t size, pos;
} Reader;

static int take(Reader* r, void* dst, size_t bytes) {
    if (bytes > r->size - r->pos) return -1;
    memcpy(dst, r->data + r->pos, bytes);
    r->pos += bytes;
    return 0;
}

static unsigned char* read_whole(const char* path, size_t* size, HwErr* err) {
    FILE* fp = fopen(path, "rb");
    if (!fp) return hw_bad_input(err, path, 0, "cannot open checkpoint: %s", strerror(errno)), NULL;
    unsigned char* buf = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len < 0 || fseek(fp, 0, SEEK_SET) != 0 || (size_t)len > ((size_t)1 << 36) ||
        !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        free(buf);
        fclose(fp);
        return hw_bad_input(err, path, 0, "cannot read checkpoint"), NULL;
    }
    fclose(fp);
    *size = (size_t)len;
    return buf;
}

int checkpoint_load(const char* path, Supernet* sn, TrainState* st, char** config_text, HwErr* err) {
    size_t size = 0;
    unsigned char* buf = read_whole(path, &size, err);
    if (!buf) return -1;
    Reader r = {buf, size, 0};
    int rc = -1;
    char magic[8];
    uint32_t version, n_blocks, config_bytes, crc_stored;
    uint64_t pf, rf;
    if (size < 64 || take(&r, magic, 8) || memcmp(magic, kMagic, 8)) {
        hw_bad_input(err, path, 0, "not an hwnas checkpoint (bad magic)");
        goto done;
    }
    memcpy(&crc_stored, buf + size - 4, 4);
    if ((uint32_t)crc32(crc32(0, NULL, 0), buf, (uInt)(size - 4)) != crc_stored) {
        hw_bad_input(err, path, 0, "checksum mismatch: the checkpoint is truncated or corrupt");
        goto done;
    }
    r.size = size - 4;
    if (take(&r, &version, 4) || version != CHECKPOINT_VERSION) {
        hw_bad_input(err, path, 0, "checkpoint version %u, expected %d", version, CHECKPOINT_VERSION);
        goto done;
    }
    if (take(&r, &st->step, 8) || take(&r, &st->epoch, 4) || take(&r, &st->batch_in_epoch, 4) || take(&r, &pf, 8) ||
        take(&r, &rf, 8) || take(&r, &n_blocks, 4) || take(&r, &config_bytes, 4)) {
        hw_bad_input(err, path, 0, "truncated checkpoint header");
        goto done;
    }
    if (pf != sn->param_floats || rf != sn->running_floats || n_blocks != (uint32_t)sn->n_blocks) {
        hw_bad_input(err, path, 0,
                     "checkpoint holds %llu parameters in %u blocks, the space %s has %zu in %d: different space",
                     (unsigned long long)pf, n_blocks, sn->space.name, sn->param_floats, sn->n_blocks);
        goto done;
    }
    size_t need = (size_t)config_bytes + (2 * pf + rf) * sizeof(float) + n_blocks * sizeof(int64_t);
    if (need != r.size - r.pos) {
        hw_bad_input(err, path, 0, "checkpoint body is %zu bytes, expected %zu", r.size - r.pos, need);
        goto done;
    }
    if (config_text) {
        *config_text = malloc(config_bytes + 1);
        if (*config_text) {
            memcpy(*config_text, r.data + r.pos, config_bytes);
            (*config_text)[config_bytes] = 0;
        }
    }
    r.pos += config_bytes;
    sn->ops->upload(&sn->ctx, sn->params, r.data + r.pos, pf * sizeof(float));
    r.pos += pf * sizeof(float);
    sn->ops->upload(&sn->ctx, sn->momentum, r.data + r.pos, pf * sizeof(float));
    r.pos += pf * sizeof(float);
    sn->ops->upload(&sn->ctx, sn->running, r.data + r.pos, rf * sizeof(float));
    r.pos += rf * sizeof(float);
    take(&r, sn->bn_batches, n_blocks * sizeof(int64_t));
    rc = 0;
done:
    free(buf);
    return rc;
}
