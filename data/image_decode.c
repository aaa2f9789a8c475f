#include "data/image_decode.h"

#include "data/png_stream.h"

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

// Binary PGM/PPM (the PNM that stb_image reads) and BMP, by their signatures.
static int is_pnm(const ImageDecoder* d) {
    return d->file_len >= 2 && d->file[0] == 'P' && (d->file[1] == '5' || d->file[1] == '6');
}

static int is_bmp(const ImageDecoder* d) { return d->file_len >= 2 && d->file[0] == 'B' && d->file[1] == 'M'; }

// The declared size against IMAGE_MAX_PIXELS and against what a file of this
// length can hold, before anything is decoded (decompression bombs).
static int check_size(ImageDecoder* d, int w, int h) {
    double pixels = (double)w * h;
    if (w <= 0 || h <= 0 || pixels > IMAGE_MAX_PIXELS)
        return fail(d, "image size %dx%d, expected 1..%d pixels (IMAGE_MAX_PIXELS)", w, h, IMAGE_MAX_PIXELS);
    int per_byte = is_pnm(d) || is_bmp(d) ? IMAGE_MAX_PIXELS_PER_BYTE_RAW : IMAGE_MAX_PIXELS_PER_BYTE;
    if (pixels > (double)d->file_len * per_byte)
        return fail(d, "image size %dx%d in a file of %zu bytes, expected at most %d pixels per byte "
                    "(a decompression bomb or a corrupt header)", w, h, d->file_len, per_byte);
    return 0;
}

// Whether every PNG chunk's declared length fits in the file (1 when it is
// not a PNG). stb_image 2.27 grows its IDAT buffer to a chunk's declared
// length before reading the chunk: a 107-byte PNG made it allocate 1.5 GB
// (found by tests/fuzz/fuzz_image).
static int png_chunks_fit(const ImageDecoder* d) {
    static const unsigned char kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (d->file_len < 8 || memcmp(d->file, kSignature, 8) != 0) return 1;
    size_t at = 8;
    while (d->file_len - at >= 12) {  // length, type, crc
        const unsigned char* c = d->file + at;
        size_t len = ((size_t)c[0] << 24) | ((size_t)c[1] << 16) | ((size_t)c[2] << 8) | c[3];
        if (len > d->file_len - at - 12) return 0;
        if (memcmp(c + 4, "IEND", 4) == 0) return 1;
        at += 12 + len;
    }
    return 1;  // a cut-off chunk header: stb_image reports it
}

static int read_stb_header(ImageDecoder* d, int* w, int* h) {
    int n;
    if (!png_chunks_fit(d)) return fail(d, "PNG chunk longer than the file, expected a complete PNG");
    if (d->file_len > 0x7fffffff || !stbi_info_from_memory(d->file, (int)d->file_len, w, h, &n))
        return fail(d, "not a decodable image (%s)", stbi_failure_reason() ? stbi_failure_reason() : "unknown format");
    int wide = stbi_is_16_bit_from_memory(d->file, (int)d->file_len);
    // stb_image 2.27 converts 16-bit PNM to the requested channels as if it
    // were 8-bit, then reads twice that buffer (a 19-byte PGM segfaulted).
    // Its 16-bit PNG and PSD paths convert correctly.
    if (wide && is_pnm(d)) return fail(d, "16-bit PNM (maxval above 255), expected 8-bit");
    double bytes = (double)*w * *h * n * (wide ? 2 : 1);
    if (bytes > IMAGE_MAX_SOURCE_BYTES)
        return fail(d, "image %dx%d with %d %d-bit channels, expected at most %d bytes decoded "
                    "(IMAGE_MAX_SOURCE_BYTES)", *w, *h, n, wide ? 16 : 8, IMAGE_MAX_SOURCE_BYTES);
    return 0;
}

static int read_header(ImageDecoder* d) {
    d->is_jpeg = d->file_len >= 3 && d->file[0] == 0xFF && d->file[1] == 0xD8 && d->file[2] == 0xFF;
    int w = 0, h = 0;
    if (d->is_jpeg) {
        int subsamp, colorspace;
        if (tjDecompressHeader3(d->tj, d->file, (unsigned long)d->file_len, &w, &h, &subsamp, &colorspace))
            return fail(d, "bad JPEG header (%s)", tjGetErrorStr2(d->tj));
        d->jpeg_colorspace = colorspace;
    } else if (read_stb_header(d, &w, &h)) {
        return -1;
    }
    if (check_size(d, w, h)) return -1;
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
    else if (st.st_size > IMAGE_MAX_FILE_BYTES)
        rc = fail(d, "file of %lld bytes, expected at most %d (IMAGE_MAX_FILE_BYTES)", (long long)st.st_size,
                  IMAGE_MAX_FILE_BYTES);
    else if (reserve(&d->file, &d->file_cap, (size_t)st.st_size))
        rc = fail(d, "out of memory for %lld bytes", (long long)st.st_size);
    else if (fread(d->file, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        rc = fail(d, "read error (%s)", ferror(f) ? strerror(errno) : "file shrank");
    fclose(f);
    if (rc) return -1;
    d->file_len = (size_t)st.st_size;
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

// Scan data that ends early is a warning to libjpeg (it fills the rest with
// grey) but the image is damaged: PIL refuses truncated files too. libjpeg
// says "Premature end of JPEG file" when the file ends and "Corrupt JPEG
// data: premature end of data segment" when a marker (EOI, say) comes first,
// as in a JPEG whose header claims more rows than its scan holds. Other
// warnings (extraneous bytes before a marker, ...) leave a usable image.
// TurboJPEG keeps the text of the first warning only.
static int jpeg_result_is_fatal(ImageDecoder* d) {
    if (tjGetErrorCode(d->tj) != TJERR_WARNING) return 1;
    const char* msg = tjGetErrorStr2(d->tj);
    return strstr(msg, "Premature end") != NULL || strstr(msg, "premature end") != NULL;
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
    char why[96];
    if (png_is_png(d->file, d->file_len) && png_check_stream(d->file, d->file_len, why, sizeof why) < 0)
        return fail(d, "corrupt image (%s)", why);
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
