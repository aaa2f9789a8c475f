// Decoding of one image file into RGB or grayscale uint8 pixels. JPEG goes
// through TurboJPEG, optionally DCT-scaled (1/2, 1/4, 1/8) when the caller
// will shrink it anyway; grayscale and CMYK/YCCK JPEGs become RGB. Anything
// else goes through stb_image (PNG, BMP, GIF, PNM, TGA, ...). A decoder owns
// its buffers and reuses them from file to file, so steady-state decoding does
// not allocate (except stb_image's own result buffer for non-JPEG files).
#ifndef HWNAS_DATA_IMAGE_DECODE_H
#define HWNAS_DATA_IMAGE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/error.h"
#include "common/limits.h"

#ifdef __cplusplus
extern "C" {
#endif

// What one image may make a decoder allocate, checked from its header before
// any pixel buffer exists (a larger or implausible image is corrupt: skipped
// and counted). Each worker thread has its own decoder.
enum {
    // 8192 x 8192: at most 192 MiB decoded as RGB (plus 256 MiB for a CMYK
    // JPEG's first pass) per worker. Camera photos are 12-50 megapixels and
    // samples are at most 1024 x 1024 (AUG_MAX_SIDE); 2^28 let a 632-byte
    // JPEG allocate 793 MB.
    IMAGE_MAX_PIXELS = LIMIT_IMAGE_PIXELS,
    // Pixels per byte of file that no valid image exceeds: deflate (PNG)
    // expands at most 1032:1 and a pixel takes at least 1 bit (8256 per byte);
    // Huffman-coded JPEG spends at least 1 bit per 8x8 block and component
    // (512). Flat images in rarer codings (arithmetic JPEG) may exceed it and
    // are skipped.
    IMAGE_MAX_PIXELS_PER_BYTE = 1 << 14,
    // The same for the formats stb_image reads only uncompressed, BMP (1 bit
    // per pixel at least) and PNM (8 bits): a 78-byte BMP claimed 391 MB.
    IMAGE_MAX_PIXELS_PER_BYTE_RAW = 8,
    // stb_image decodes the whole image at the file's own channel count and
    // depth before converting it: 8-bit RGBA at IMAGE_MAX_PIXELS, or half as
    // many pixels of 16-bit RGBA (8 bytes per pixel).
    IMAGE_MAX_SOURCE_BYTES = 1 << 28,
    // The encoded file, read whole into memory: 4 bytes per pixel at
    // IMAGE_MAX_PIXELS. Larger files are skipped without being read.
    IMAGE_MAX_FILE_BYTES = LIMIT_IMAGE_FILE_BYTES,
};

typedef struct ImageDecoder {
    void* tj;                       // tjhandle
    uint8_t* file;                  // the encoded bytes of the current image
    size_t file_len, file_cap;
    uint8_t* pixels;                // the decoded image
    size_t pixels_cap;
    uint8_t* cmyk;                  // CMYK JPEGs decode here first
    size_t cmyk_cap;
    int width, height;              // full size of the current image
    int is_jpeg, jpeg_colorspace;
    int dct_scaling;                // 1 (default): allow DCT-scaled JPEG decoding
    char why[192];                  // why the last open/decode failed
} ImageDecoder;

typedef struct DecodedImage {
    const uint8_t* pixels;          // [height][width][channels], owned by the decoder
    int height, width, channels;
    int scale_num, scale_denom;     // decoded at scale_num/scale_denom of the full size
} DecodedImage;

int image_decoder_init(ImageDecoder* d, HwErr* err);
void image_decoder_free(ImageDecoder* d);

// Reads a file and its header: d->width and
// d->height. Returns 0, or -1 when it is not a readable image (d->why says
// why): also for sizes beyond the limits above and for 16-bit PNM, which
// Debian's stb_image 2.27 converts past the end of its buffer.
int image_open_file(ImageDecoder* d, const char* path);

// Decodes the current image with 1 or 3 channels. `shrink` is how many source
// pixels the caller maps to one output pixel (>= 1 allows DCT scaling by the
// largest of 2, 4, 8 not above it; pass 1 for full size). 0 or -1 (d->why).
int image_decode(ImageDecoder* d, int channels, double shrink, DecodedImage* out);

#ifdef __cplusplus
}
#endif
#endif
