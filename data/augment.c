#include "data/augment.h"

#include <math.h>
#include <stddef.h>

static int clamp_side(int v, int limit) { return v < 1 ? 1 : (v > limit ? limit : v); }

void rrc_sample(Rng* rng, int height, int width, const float scale[2], const float ratio[2], CropBox* box) {
    double area = (double)height * width;
    float log_lo = logf(ratio[0]), log_hi = logf(ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        float s = scale[0] + (scale[1] - scale[0]) * rng_uniform(rng);
        float aspect = expf(log_lo + (log_hi - log_lo) * rng_uniform(rng));
        // Python's round() rounds half to even, as nearbyint does by default.
        int w = (int)nearbyint(sqrt(area * s * aspect));
        int h = (int)nearbyint(sqrt(area * s / aspect));
        if (w > 0 && w <= width && h > 0 && h <= height) {
            box->top = (int)rng_below(rng, (uint32_t)(height - h + 1));
            box->left = (int)rng_below(rng, (uint32_t)(width - w + 1));
            box->height = h;
            box->width = w;
            return;
        }
    }
    // Fallback to the central crop, clamped to the ratio range.
    double in_ratio = (double)width / height;
    double min_ratio = fmin(ratio[0], ratio[1]), max_ratio = fmax(ratio[0], ratio[1]);
    int w = width, h = height;
    if (in_ratio < min_ratio)
        h = (int)nearbyint(w / min_ratio);
    else if (in_ratio > max_ratio)
        w = (int)nearbyint(h * max_ratio);
    // A 1-pixel side with a ratio range far from 1 rounds the other side to 0
    // (torchvision would return an empty crop): keep at least one pixel.
    h = clamp_side(h, height);
    w = clamp_side(w, width);
    box->top = (height - h) / 2;
    box->left = (width - w) / 2;
    box->height = h;
    box->width = w;
}

void resample_for_crop(const CropBox* box, int out_h, int out_w, int flip, ResampleSpec* spec) {
    *spec = (ResampleSpec){
        .out_h = out_h, .out_w = out_w,
        .base_y = box->top, .base_x = box->left,
        .scale_y = (float)box->height / (float)out_h, .scale_x = (float)box->width / (float)out_w,
        .limit_y = box->top + box->height - 1, .limit_x = box->left + box->width - 1,
        .flip = flip,
    };
}

// The longer side int(resize * long / short), in 64 bits: for a 1 x 16777216
// image and resize 256 it is 2^32, which wrapped to 0 in int (an infinite
// scale, then source index INT_MIN). Clamped to AUG_MAX_RESIZED_SIDE.
static int resized_long_side(int resize, int long_side, int short_side) {
    if (short_side < 1) short_side = 1;
    long long side = (long long)resize * long_side / short_side;
    return side > AUG_MAX_RESIZED_SIDE ? AUG_MAX_RESIZED_SIDE : (int)side;
}

void center_resize_dims(int height, int width, int resize, int* new_h, int* new_w) {
    // torchvision: the shorter side becomes `resize`, the longer int(resize * long / short).
    if (width <= height) {
        *new_w = resize;
        *new_h = resized_long_side(resize, height, width);
    } else {
        *new_h = resize;
        *new_w = resized_long_side(resize, width, height);
    }
}

void resample_for_center(int height, int width, int resize, int out_size, ResampleSpec* spec) {
    int new_h, new_w;
    center_resize_dims(height, width, resize, &new_h, &new_w);
    // CenterCrop: int(round((size - crop) / 2.0)), round half to even.
    *spec = (ResampleSpec){
        .out_h = out_size, .out_w = out_size,
        .scale_y = (float)height / (float)new_h, .scale_x = (float)width / (float)new_w,
        .offset_y = (int)nearbyint((new_h - out_size) / 2.0),
        .offset_x = (int)nearbyint((new_w - out_size) / 2.0),
        .limit_y = height - 1, .limit_x = width - 1,
    };
}

static void rescale_axis(int* base, float* frac, float* scale, int* limit, double ratio, int scaled) {
    double origin = (*base + (double)*frac) * ratio;
    *base = (int)floor(origin);
    *frac = (float)(origin - *base);
    *scale = (float)(*scale * ratio);
    int last = (int)ceil((*limit + 1) * ratio) - 1;
    *limit = last < scaled - 1 ? last : scaled - 1;
}

void resample_rescale(ResampleSpec* spec, double ratio, int scaled_h, int scaled_w) {
    rescale_axis(&spec->base_y, &spec->frac_y, &spec->scale_y, &spec->limit_y, ratio, scaled_h);
    rescale_axis(&spec->base_x, &spec->frac_x, &spec->scale_x, &spec->limit_x, ratio, scaled_w);
}

// Source index, +1 neighbour and weights of output position o along one axis,
// computed like torch: the relative index in double, stored as float, clamped at 0.
static void source_tap(float scale, int offset, float frac, int base, int limit, int o,
                       int* i0, int* i1, float* w0, float* w1) {
    float real = (float)((double)scale * (offset + o + 0.5) - 0.5 + frac);
    if (real < 0.0f) real = 0.0f;
    // Converting a float beyond INT_MAX to int is undefined; any index this
    // large is clamped to `limit` below anyway (image sides are <= 2^24).
    if (real > (float)AUG_MAX_RESIZED_SIDE) real = (float)AUG_MAX_RESIZED_SIDE;
    int i = (int)real;
    float lambda = real - (float)i;
    if (lambda > 1.0f) lambda = 1.0f;
    i += base;
    if (i > limit) i = limit;
    *i0 = i;
    *i1 = i < limit ? i + 1 : i;
    *w1 = lambda;
    *w0 = 1.0f - lambda;
}

// One output row from source rows r0 (weight wy0) and r1 (wy1), with the same
// association as torch's separable kernel: along the row first, then across rows.
static void resample_row(const uint8_t* r0, const uint8_t* r1, float wy0, float wy1, const int* x0,
                         const int* x1, const float* wx0, const float* wx1, int out_w, int c, int flip,
                         const float* mul, const float* add, float* o) {
    for (int ox = 0; ox < out_w; ox++) {
        int dx = (flip ? out_w - 1 - ox : ox) * c;
        const uint8_t *a = r0 + x0[ox], *b = r0 + x1[ox], *d = r1 + x0[ox], *e = r1 + x1[ox];
        for (int k = 0; k < c; k++) {
            float top = wx0[ox] * a[k] + wx1[ox] * b[k];
            float bottom = wx0[ox] * d[k] + wx1[ox] * e[k];
            o[dx + k] = (top * wy0 + bottom * wy1) * mul[k] + add[k];
        }
    }
}

// The same for three channels, unrolled (the common case; ~2x faster).
static void resample_row_rgb(const uint8_t* r0, const uint8_t* r1, float wy0, float wy1, const int* x0,
                             const int* x1, const float* wx0, const float* wx1, int out_w, int flip,
                             const float* mul, const float* add, float* o) {
    float m0 = mul[0], m1 = mul[1], m2 = mul[2], a0 = add[0], a1 = add[1], a2 = add[2];
    float* dst = flip ? o + (size_t)(out_w - 1) * 3 : o;
    ptrdiff_t step = flip ? -3 : 3;
    for (int ox = 0; ox < out_w; ox++, dst += step) {
        const uint8_t *a = r0 + x0[ox], *b = r0 + x1[ox], *d = r1 + x0[ox], *e = r1 + x1[ox];
        float u = wx0[ox], v = wx1[ox];
        float t0 = u * a[0] + v * b[0], t1 = u * a[1] + v * b[1], t2 = u * a[2] + v * b[2];
        float s0 = u * d[0] + v * e[0], s1 = u * d[1] + v * e[1], s2 = u * d[2] + v * e[2];
        dst[0] = (t0 * wy0 + s0 * wy1) * m0 + a0;
        dst[1] = (t1 * wy0 + s1 * wy1) * m1 + a1;
        dst[2] = (t2 * wy0 + s2 * wy1) * m2 + a2;
    }
}

void resample_bilinear(const uint8_t* src, int h, int w, int channels, const ResampleSpec* spec,
                       const float* mul, const float* add, float* out) {
    int x0[AUG_MAX_SIDE], x1[AUG_MAX_SIDE];
    float wx0[AUG_MAX_SIDE], wx1[AUG_MAX_SIDE];
    int out_w = spec->out_w, c = channels;
    for (int ox = 0; ox < out_w; ox++) {
        source_tap(spec->scale_x, spec->offset_x, spec->frac_x, spec->base_x, spec->limit_x, ox,
                   &x0[ox], &x1[ox], &wx0[ox], &wx1[ox]);
        x0[ox] *= c;
        x1[ox] *= c;
    }
    size_t row = (size_t)w * c;
    for (int oy = 0; oy < spec->out_h; oy++) {
        int y0, y1;
        float wy0, wy1;
        source_tap(spec->scale_y, spec->offset_y, spec->frac_y, spec->base_y, spec->limit_y, oy,
                   &y0, &y1, &wy0, &wy1);
        const uint8_t* r0 = src + (size_t)y0 * row;
        const uint8_t* r1 = src + (size_t)y1 * row;
        float* o = out + (size_t)oy * out_w * c;
        if (c == 3)
            resample_row_rgb(r0, r1, wy0, wy1, x0, x1, wx0, wx1, out_w, spec->flip, mul, add, o);
        else
            resample_row(r0, r1, wy0, wy1, x0, x1, wx0, wx1, out_w, c, spec->flip, mul, add, o);
    }
}

void pad_crop_sample(Rng* rng, int rows, int cols, int out_size, int pad, int* top, int* left) {
    int range_y = rows + 2 * pad - out_size, range_x = cols + 2 * pad - out_size;
    pad_crop_center(rows, cols, out_size, top, left);
    if (range_y >= 0) *top = -pad + (int)rng_below(rng, (uint32_t)range_y + 1);
    if (range_x >= 0) *left = -pad + (int)rng_below(rng, (uint32_t)range_x + 1);
}

static int floor_half(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

void pad_crop_center(int rows, int cols, int out_size, int* top, int* left) {
    *top = floor_half(rows - out_size);
    *left = floor_half(cols - out_size);
}

void pad_crop_apply(const uint8_t* src, int rows, int cols, int out_size, int top, int left, int flip,
                    float mul, float add, float* out) {
    for (int y = 0; y < out_size; y++) {
        int sy = top + y;
        float* o = out + (size_t)y * out_size;
        for (int x = 0; x < out_size; x++) {
            int sx = left + x;
            int v = (sy >= 0 && sy < rows && sx >= 0 && sx < cols) ? src[(size_t)sy * cols + sx] : 0;
            o[flip ? out_size - 1 - x : x] = (float)v * mul + add;
        }
    }
}

void jitter_sample(Rng* rng, float strength, JitterParams* p) {
    int order[3] = {0, 1, 2};
    for (int i = 2; i > 0; i--) {
        int j = (int)rng_below(rng, (uint32_t)i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    float lo = strength < 1.0f ? 1.0f - strength : 0.0f, hi = 1.0f + strength;
    p->brightness = lo + (hi - lo) * rng_uniform(rng);
    p->contrast = lo + (hi - lo) * rng_uniform(rng);
    p->saturation = lo + (hi - lo) * rng_uniform(rng);
    for (int i = 0; i < 3; i++) p->order[i] = order[i];
}

static float clamp01(float v) { return v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v); }

// torchvision's rgb_to_grayscale weights.
static float gray_of(const float* px, int channels) {
    return channels == 3 ? 0.2989f * px[0] + 0.587f * px[1] + 0.114f * px[2] : px[0];
}

static void blend_constant(float* img, size_t n, float f, float other) {
    for (size_t i = 0; i < n; i++) img[i] = clamp01(f * img[i] + (1.0f - f) * other);
}

void jitter_apply(float* img, int h, int w, int channels, const JitterParams* p) {
    size_t pixels = (size_t)h * w, n = pixels * channels;
    for (int step = 0; step < 3; step++) {
        int op = p->order[step];
        if (op == 0) {
            blend_constant(img, n, p->brightness, 0.0f);
        } else if (op == 1) {
            double sum = 0.0;
            for (size_t i = 0; i < pixels; i++) sum += gray_of(img + i * channels, channels);
            blend_constant(img, n, p->contrast, (float)(sum / (double)pixels));
        } else if (channels == 3) {  // saturation leaves a single-channel image unchanged
            float f = p->saturation;
            for (size_t i = 0; i < pixels; i++) {
                float* px = img + i * 3;
                float g = gray_of(px, 3);
                for (int k = 0; k < 3; k++) px[k] = clamp01(f * px[k] + (1.0f - f) * g);
            }
        }
    }
}

void normalize_apply(float* img, size_t pixels, int channels, const float* mean, const float* std) {
    for (size_t i = 0; i < pixels; i++)
        for (int k = 0; k < channels; k++) img[i * channels + k] = (img[i * channels + k] - mean[k]) / std[k];
}
