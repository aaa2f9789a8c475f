#include "supernet/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "common/safe_file.h"

static const char kMagic[8] = {'H', 'W', 'N', 'A', 'S', 'C', 'K', 0};

// Writes through a SafeFile (a temporary file renamed into place, so a
// planted link is never followed and a crash leaves the old checkpoint);
// the file remembers the first write error.
typedef struct Writer {
    SafeFile* f;
    uLong crc;
} Writer;

static void put(Writer* w, const void* data, size_t bytes) {
    if (!bytes) return;
    safe_file_write(w->f, data, bytes);
    w->crc = crc32(w->crc, data, (uInt)bytes);
}

// Large buffers go through a bounce buffer because on CUDA they are device memory.
static void put_backend(Writer* w, const Supernet* sn, const float* src, size_t floats) {
    enum { CHUNK = 1 << 20 };
    float* bounce = malloc(CHUNK * sizeof(float));
    if (!bounce) {
        if (!w->f->error) w->f->error = ENOMEM;
        return;
    }
    for (size_t done = 0; done < floats; done += CHUNK) {
        size_t n = floats - done < CHUNK ? floats - done : CHUNK;
        sn->ops->download(&sn->ctx, bounce, src + done, n * sizeof(float));
        put(w, bounce, n * sizeof(float));
    }
    free(bounce);
}

// The test hook HWNAS_TEST_CHECKPOINT_PAUSE_MS (see checkpoint.h): a pause
// between the last write and the rename, so a test can kill the writer there.
static void pause_before_rename(void) {
    const char* v = getenv(CHECKPOINT_PAUSE_ENV);
    if (!v || !*v) return;
    char* end = NULL;
    long ms = strtol(v, &end, 10);
    if (*end || ms <= 0) return;
    if (ms > CHECKPOINT_PAUSE_MAX_MS) ms = CHECKPOINT_PAUSE_MAX_MS;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int checkpoint_save(const char* path, const Supernet* sn, const TrainState* st, const char* config_text,
                    HwErr* err) {
    SafeFile file;
    if (safe_file_begin(&file, path, err) < 0) return -1;
    Writer w = {&file, crc32(0, NULL, 0)};
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
    safe_file_write(&file, &crc, 4);
    // The whole file reaches its temporary name before the test hook's pause;
    // a failed flush is kept for safe_file_commit to report with its errno.
    if (!file.error && fflush(file.fp) != 0) file.error = errno ? errno : EIO;
    if (!file.error && file.tmp[0]) pause_before_rename();
    return safe_file_commit(&file, err);  // fflush, fsync, rename; the old checkpoint stays on failure
}

// zlib's crc32 takes a uInt (32-bit) length: pieces of 1 GiB let checkpoints
// of 4 GiB and more (ImageNet supernets) be checked whole.
uint32_t checkpoint_crc32(const void* data, size_t bytes) {
    const size_t piece = (size_t)1 << 30;
    const unsigned char* p = data;
    uLong crc = crc32(0, NULL, 0);
    while (bytes > 0) {
        size_t n = bytes < piece ? bytes : piece;
        crc = crc32(crc, p, (uInt)n);
        p += n, bytes -= n;
    }
    return (uint32_t)crc;
}

// The CRC only catches accidents; a crafted file can hold any state. This one
// must be reachable by some run: after `step` steps of B batches per epoch a
// run is at epoch step / B, batch step % B, so with epoch > 0 there must be a
// whole B = (step - batch_in_epoch) / epoch above batch_in_epoch.
static int check_reachable_state(const char* path, const TrainState* st, HwErr* err) {
    const uint64_t step = st->step, epoch = st->epoch, batch = st->batch_in_epoch;
    if (step > (uint64_t)INT64_MAX)
        return hw_bad_input(err, path, 0, "checkpoint at step %llu, expected at most %lld", (unsigned long long)step,
                            (long long)INT64_MAX);
    if (batch > step)
        return hw_bad_input(err, path, 0, "checkpoint at batch %llu of an epoch after %llu steps, expected at most %llu",
                            (unsigned long long)batch, (unsigned long long)step, (unsigned long long)step);
    uint64_t done = step - batch;  // steps of the finished epochs
    if (epoch == 0 ? done != 0 : done % epoch != 0 || done / epoch <= batch)
        return hw_bad_input(err, path, 0,
                            "checkpoint at step %llu, epoch %llu, batch %llu: expected step = epoch x batches per "
                            "epoch + batch for some batches per epoch above the batch",
                            (unsigned long long)step, (unsigned long long)epoch, (unsigned long long)batch);
    return 0;
}

int checkpoint_check_state(const char* path, const TrainState* st, int epochs, int batches, HwErr* err) {
    if (st->epoch > (uint32_t)epochs)
        return hw_bad_input(err, path, 0, "checkpoint at epoch %u, expected at most %d (the run's epochs)", st->epoch,
                            epochs);
    if (st->epoch == (uint32_t)epochs && st->batch_in_epoch > 0)
        return hw_bad_input(err, path, 0, "checkpoint at epoch %u batch %u, expected at most epoch %d batch 0 (the end "
                            "of the run's epochs)", st->epoch, st->batch_in_epoch, epochs);
    if (batches <= 0) return 0;
    if (st->batch_in_epoch >= (uint32_t)batches)
        return hw_bad_input(err, path, 0, "checkpoint at batch %u of an epoch, expected below %d (the batches per "
                            "epoch of this data and batch size)", st->batch_in_epoch, batches);
    uint64_t want = (uint64_t)st->epoch * (uint64_t)batches + st->batch_in_epoch;
    if (st->step != want)
        return hw_bad_input(err, path, 0, "checkpoint at step %llu, expected %llu (epoch %u x %d batches per epoch + "
                            "batch %u): it was written with other data, batch size or process count",
                            (unsigned long long)st->step, (unsigned long long)want, st->epoch, batches,
                            st->batch_in_epoch);
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
    if (!fp) {
        hw_bad_input(err, path, 0, "cannot open checkpoint: %s", strerror(errno));
        return NULL;
    }
    unsigned char* buf = NULL;
    long len = -1;
    if (fseek(fp, 0, SEEK_END) == 0) len = ftell(fp);
    if (len > LIMIT_CHECKPOINT_BYTES) {
        fclose(fp);
        return hw_bad_input(err, path, 0, "checkpoint of %ld bytes, expected at most %lld (LIMIT_CHECKPOINT_BYTES)",
                            len, (long long)LIMIT_CHECKPOINT_BYTES), NULL;
    }
    if (len < 0 || fseek(fp, 0, SEEK_SET) != 0 ||
        !(buf = malloc((size_t)len + 1)) || fread(buf, 1, (size_t)len, fp) != (size_t)len) {
        free(buf);
        fclose(fp);
        hw_bad_input(err, path, 0, "cannot read checkpoint");
        return NULL;
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
    if (checkpoint_crc32(buf, size - 4) != crc_stored) {
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
    if (check_reachable_state(path, st, err) < 0) goto done;
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
    sn->grads_momentum_zero = 0;
    r.pos += pf * sizeof(float);
    sn->ops->upload(&sn->ctx, sn->running, r.data + r.pos, rf * sizeof(float));
    r.pos += rf * sizeof(float);
    take(&r, sn->bn_batches, n_blocks * sizeof(int64_t));
    rc = 0;
done:
    free(buf);
    return rc;
}
