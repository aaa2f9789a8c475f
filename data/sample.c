// One training/evaluation sample: read, decode, crop, flip, jitter, normalize.
#include <stdio.h>

#include "common/rng.h"
#include "data/augment.h"
#include "data/dataset_internal.h"

enum {
    MAX_ATTEMPTS = 64,              // corrupt files in a row before giving up
    STREAM_REPLACE = 1 << 20,       // rng_seed c-key of replacement draws (augmentation uses the attempt)
};

int sample_worker_init(SampleWorker* w, HwErr* err) { return image_decoder_init(&w->dec, err); }
void sample_worker_free(SampleWorker* w) { image_decoder_free(&w->dec); }

static void normalize_constants(const Dataset* ds, float* mul, float* add) {
    for (int k = 0; k < ds->channels; k++) {
        mul[k] = 1.0f / (255.0f * ds->cfg.std[k]);
        add[k] = -ds->cfg.mean[k] / ds->cfg.std[k];
    }
}

static void load_idx(const Dataset* ds, Rng* rng, int sample, int augment, float* out) {
    const IdxImages* im = &ds->images;
    const uint8_t* src = im->pixels + (size_t)sample * im->rows * im->cols;
    int top, left, flip = 0;
    if (augment) {
        pad_crop_sample(rng, im->rows, im->cols, ds->size, ds->cfg.pad_crop, &top, &left);
        flip = ds->cfg.hflip && rng_uniform(rng) < 0.5f;
    } else {
        pad_crop_center(im->rows, im->cols, ds->size, &top, &left);
    }
    float mul[3], add[3];
    normalize_constants(ds, mul, add);
    pad_crop_apply(src, im->rows, im->cols, ds->size, top, left, flip, mul[0], add[0], out);
}

static void mark_bad(Dataset* ds, int sample, const char* path, const char* why) {
    if (atomic_exchange(&ds->bad[sample], 1)) return;
    atomic_fetch_add(&ds->skipped, 1);
    pthread_mutex_lock(&ds->skip_lock);
    if (ds->on_skip) ds->on_skip(ds->on_skip_user, path, why);
    pthread_mutex_unlock(&ds->skip_lock);
}

// Decodes and augments one image file; -1 when it is corrupt (w->dec.why).
static int load_file(const Dataset* ds, SampleWorker* w, Rng* rng, int augment, float* out) {
    ImageDecoder* d = &w->dec;
    if (image_open_file(d, w->path)) return -1;
    const DataSection* c = &ds->cfg;
    ResampleSpec spec;
    if (augment) {
        CropBox box;
        rrc_sample(rng, d->height, d->width, c->rrc_scale, c->rrc_ratio, &box);
        resample_for_crop(&box, ds->size, ds->size, c->hflip && rng_uniform(rng) < 0.5f, &spec);
    } else {
        resample_for_center(d->height, d->width, c->val_resize, ds->size, &spec);
    }
    int jitter = augment && c->color_jitter > 0.0f;
    JitterParams jp;
    if (jitter) jitter_sample(rng, c->color_jitter, &jp);
    DecodedImage img;
    double shrink = spec.scale_y < spec.scale_x ? spec.scale_y : spec.scale_x;
    if (image_decode(d, ds->channels, shrink, &img)) return -1;
    if (img.scale_num != img.scale_denom)
        resample_rescale(&spec, (double)img.scale_num / img.scale_denom, img.height, img.width);
    float mul[3], add[3];
    if (!jitter) {
        normalize_constants(ds, mul, add);
        resample_bilinear(img.pixels, img.height, img.width, img.channels, &spec, mul, add, out);
        return 0;
    }
    for (int k = 0; k < 3; k++) mul[k] = 1.0f / 255.0f, add[k] = 0.0f;
    resample_bilinear(img.pixels, img.height, img.width, img.channels, &spec, mul, add, out);
    jitter_apply(out, ds->size, ds->size, ds->channels, &jp);
    normalize_apply(out, (size_t)ds->size * ds->size, ds->channels, c->mean, c->std);
    return 0;
}

int sample_load(Dataset* ds, SampleWorker* w, uint64_t seed, int epoch, int sample, int augment,
                float* out, int* label, HwErr* err) {
    Rng rng;
    if (ds->is_idx) {
        rng_seed(&rng, seed, (uint64_t)epoch, (uint64_t)sample, 0);
        load_idx(ds, &rng, sample, augment, out);
        *label = ds->labels8[sample];
        return 0;
    }
    int candidate = sample;
    for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        if (attempt > 0) {  // the replacement depends on (seed, epoch, sample, attempt) only
            Rng pick;
            rng_seed(&pick, seed, (uint64_t)epoch, (uint64_t)sample, STREAM_REPLACE + (uint64_t)attempt);
            candidate = (int)rng_below(&pick, (uint32_t)ds->count);
        }
        if (atomic_load(&ds->bad[candidate])) continue;
        if (image_list_path(&ds->list, ds->members[candidate], w->path, sizeof w->path)) {
            mark_bad(ds, candidate, image_list_name(&ds->list, ds->members[candidate]), "path too long");
            continue;
        }
        rng_seed(&rng, seed, (uint64_t)epoch, (uint64_t)sample, (uint64_t)attempt);
        if (load_file(ds, w, &rng, augment, out)) {
            mark_bad(ds, candidate, w->path, w->dec.why);
            continue;
        }
        *label = dataset_label(ds, candidate);
        return 0;
    }
    return hw_runtime(err, ds->list.dir, 0, "%d corrupt files in a row while replacing sample %d, expected readable images",
                      MAX_ATTEMPTS, sample);
}
