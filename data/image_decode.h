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

#ifdef __cplusplus
extern "C" {
#endif

enum { IMAGE_MAX_PIXELS = 1 << 28 };  // larger images are rejected as corrupt

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

// Reads a file (or takes a copy of a buffer) and its header: d->width and
// d->height. Returns 0, or -1 when it is not a readable image (d->why says why).
int image_open_file(ImageDecoder* d, const char* path);
int image_open_memory(ImageDecoder* d, const void* data, size_t len);

// Decodes the current image with 1 or 3 channels. `shrink` is how many source
// pixels the caller maps to one output pixel (>= 1 allows DCT scaling by the
// largest of 2, 4, 8 not above it; pass 1 for full size). 0 or -1 (d->why).
int image_decode(ImageDecoder* d, int channels, double shrink, DecodedImage* out);

#ifdef __cplusplus
}
#endif
#endif
