#include "data/image_decode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <turbojpeg.h>

#include <stb_image.h>

static int fail(ImageDecoder* d, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(ImageDecoder* d, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof d->why, fmt, ap);
    va_end(ap);
    return -1;
}

// Grows *buf to at least `need` bytes; old contents are not kept.
static int reserve(uint8_t** buf, size_t* cap, size_t need) {
    if (*cap >= need) return 0;
    size_t grown = need + need / 4;
    uint8_t* p = malloc(grown);
    if (!p) return -1;
    free(*buf);
    *buf = p;
    *cap = grown;
    return 0;
}

int image_decoder_init(ImageDecoder* d, HwErr* err) {
    memset(d, 0, sizeof *d);
    d->dct_scaling = 1;
    d->tj = tjInitDecompress();
    if (!d->tj) return hw_runtime(err, NULL, 0, "TurboJPEG: cannot create a decompressor (%s)", tjGetErrorStr2(NULL));
    return 0;
}

void image_decoder_free(ImageDecoder* d) {
    if (d->tj) tjDestroy(d->tj);
    free(d->file);
    free(d->pixels);
    free(d->cmyk);
    memset(d, 0, sizeof *d);
}

static int read_header(ImageDecoder* d) {
    d->is_jpeg = d->file_len >= 3 && d->file[0] == 0xFF && d->file[1] == 0xD8 && d->file[2] == 0xFF;
    int w = 0, h = 0;
    if (d->is_jpeg) {
        int subsamp, colorspace;
        if (tjDecompressHeader3(d->tj, d->file, (unsigned long)d->file_len, &w, &h, &subsamp, &colorspace))
            return fail(d, "bad JPEG header (%s)", tjGetErrorStr2(d->tj));
        d->jpeg_colorspace = colorspace;
    } else {
        int n;
        if (d->file_len > 0x7fffffff || !stbi_info_from_memory(d->file, (int)d->file_len, &w, &h, &n))
            return fail(d, "not a decodable image (%s)", stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
    }
    if (w <= 0 || h <= 0 || (double)w * h > IMAGE_MAX_PIXELS)
        return fail(d, "image size %dx%d, expected 1..%d pixels", w, h, IMAGE_MAX_PIXELS);
    d->width = w;
    d->height = h;
    return 0;
}

int image_open_file(ImageDecoder* d, const char* path) {
    d->width = d->height = 0;
    d->file_len = 0;
    FILE* f = fopen(path, "rb");
    if (!f) return fail(d, "cannot open (%s)", strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) || st.st_size <= 0)
        rc = fail(d, "empty or unreadable file");
    else if (reserve(&d->file, &d->file_cap, (size_t)st.st_size))
        rc = fail(d, "out of memory for %lld bytes", (long long)st.st_size);
    else if (fread(d->file, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = fail(d, "read error (%s)", ferror(f) ? strerror(errno) : "file shrank");
    fclose(f);
    if (rc) return -1;
    d->file_len = (size_t)st.st_size;
    return read_header(d);
}

int image_open_memory(ImageDecoder* d, const void* data, size_t len) {
    d->width = d->height = 0;
    d->file_len = 0;
    if (len == 0) return fail(d, "empty buffer");
    if (reserve(&d->file, &d->file_cap, len)) return fail(d, "out of memory for %zu bytes", len);
    memcpy(d->file, data, len);
    d->file_len = len;
    return read_header(d);
}

// The largest of 1/8, 1/4, 1/2 (or 1) whose inverse is <= shrink.
static tjscalingfactor pick_scale(const ImageDecoder* d, double shrink) {
    tjscalingfactor best = {1, 1};
    if (!d->dct_scaling) return best;
    int n = 0;
    tjscalingfactor* all = tjGetScalingFactors(&n);
    for (int i = 0; all && i < n; i++)
        if (all[i].num == 1 && (all[i].denom == 2 || all[i].denom == 4 || all[i].denom == 8) &&
            all[i].denom <= shrink && all[i].denom > best.denom)
            best = all[i];
    return best;
}

// libjpeg(-turbo)'s CMYK convention (Adobe, inverted): R = C * K / 255.
static void cmyk_to_rgb_or_gray(const uint8_t* cmyk, uint8_t* out, size_t pixels, int channels) {
    for (size_t i = 0; i < pixels; i++) {
        const uint8_t* p = cmyk + 4 * i;
        int k = p[3];
        int r = (p[0] * k + 127) / 255, g = (p[1] * k + 127) / 255, b = (p[2] * k + 127) / 255;
        if (channels == 3) {
            out[3 * i] = (uint8_t)r;
            out[3 * i + 1] = (uint8_t)g;
            out[3 * i + 2] = (uint8_t)b;
        } else {
            out[i] = (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
        }
    }
}

// Truncation is a warning to libjpeg (it fills the rest with grey) but the
// image is damaged: PIL refuses such files too. Other warnings (extraneous
// bytes before a marker, ...) leave a usable image.
static int jpeg_result_is_fatal(ImageDecoder* d) {
    if (tjGetErrorCode(d->tj) != TJERR_WARNING) return 1;
    return strstr(tjGetErrorStr2(d->tj), "Premature end") != NULL;
}

static int decode_jpeg(ImageDecoder* d, int channels, double shrink, DecodedImage* out) {
    tjscalingfactor sf = pick_scale(d, shrink);
    int w = TJSCALED(d->width, sf), h = TJSCALED(d->height, sf);
    size_t pixels = (size_t)w * h;
    int cmyk = d->jpeg_colorspace == TJCS_CMYK || d->jpeg_colorspace == TJCS_YCCK;
    if (reserve(&d->pixels, &d->pixels_cap, pixels * channels)) return fail(d, "out of memory");
    uint8_t* dst = d->pixels;
    int format = channels == 3 ? TJPF_RGB : TJPF_GRAY;
    if (cmyk) {
        if (reserve(&d->cmyk, &d->cmyk_cap, pixels * 4)) return fail(d, "out of memory");
        dst = d->cmyk;
        format = TJPF_CMYK;
    }
    if (tjDecompress2(d->tj, d->file, (unsigned long)d->file_len, dst, w, 0, h, format, 0) &&
        jpeg_result_is_fatal(d))
        return fail(d, "corrupt JPEG (%s)", tjGetErrorStr2(d->tj));
    if (cmyk) cmyk_to_rgb_or_gray(d->cmyk, d->pixels, pixels, channels);
    *out = (DecodedImage){d->pixels, h, w, channels, sf.num, sf.denom};
    return 0;
}

static int decode_stb(ImageDecoder* d, int channels, DecodedImage* out) {
    int w, h, n;
    uint8_t* p = stbi_load_from_memory(d->file, (int)d->file_len, &w, &h, &n, channels);
    if (!p) return fail(d, "corrupt image (%s)", stbi_failure_reason() ? stbi_failure_reason() : "unknown");
    size_t bytes = (size_t)w * h * channels;
    int rc = 0;
    if (w != d->width || h != d->height)
        rc = fail(d, "decoded %dx%d, header said %dx%d", w, h, d->width, d->height);
    else if (reserve(&d->pixels, &d->pixels_cap, bytes))
        rc = fail(d, "out of memory");
    else
        memcpy(d->pixels, p, bytes);
    stbi_image_free(p);
    if (rc) return -1;
    *out = (DecodedImage){d->pixels, h, w, channels, 1, 1};
    return 0;
}

int image_decode(ImageDecoder* d, int channels, double shrink, DecodedImage* out) {
    if (d->width <= 0) return fail(d, "no image opened");
    if (channels != 1 && channels != 3) return fail(d, "%d channels requested, expected 1 or 3", channels);
    return d->is_jpeg ? decode_jpeg(d, channels, shrink, out) : decode_stb(d, channels, out);
}
