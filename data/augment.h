// Augmentation and resampling of decoded uint8 images into normalized float
// NHWC samples. Geometry follows torchvision 0.14:
//   - RandomResizedCrop.get_params (10 attempts, then the central-crop fallback)
//   - resized_crop / Resize + CenterCrop with bilinear interpolation as in
//     torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
//     antialias=False) on a float tensor: half-pixel centres, the source index
//     clamped at 0, the +1 neighbour clamped at the last row/column. We match
//     the float path (no rounding back to uint8 after the resize).
//   - RandomCrop(size, padding=pad) with zero fill, horizontal flip, ColorJitter
//     brightness/contrast/saturation, Normalize((x/255 - mean) / std).
#ifndef HWNAS_DATA_AUGMENT_H
#define HWNAS_DATA_AUGMENT_H

#include <stddef.h>
#include <stdint.h>

#include "common/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { AUG_MAX_SIDE = 1024 };  // largest output side (resampling keeps per-column tables on the stack)
// Largest side of the Resize step of the centre crop. That image is never
// built (only its geometry is used); the cap keeps offsets and source indices
// within int for absurd aspect ratios (1 x 16777216 resized to 256 x 2^32).
// It binds only beyond an aspect ratio of 2^30 / resize (4 million to 1 for
// resize 256), so the geometry of real images is torchvision's exactly.
enum { AUG_MAX_RESIZED_SIDE = 1 << 30 };

typedef struct CropBox {
    int top, left, height, width;
} CropBox;

// Where every output pixel samples the source. Output row oy reads source row
//   base_y + max(scale_y * (offset_y + oy + 0.5) - 0.5 + frac_y, 0)
// (torch's area_pixel_compute_source_index, shifted to the crop), and its +1
// neighbour is clamped at row limit_y; likewise for columns.
typedef struct ResampleSpec {
    int out_h, out_w;
    int base_y, base_x;        // integer source origin (the crop's top-left)
    float frac_y, frac_x;      // fractional origin, nonzero only after DCT-scaled decoding
    float scale_y, scale_x;    // source pixels per output pixel
    int offset_y, offset_x;    // output index offset (the centre crop inside the resized image)
    int limit_y, limit_x;      // last source row / column the interpolation may read
    int flip;                  // mirror the output horizontally
} ResampleSpec;

typedef struct JitterParams {
    float brightness, contrast, saturation;  // factors, 1 = unchanged
    int order[3];                            // 0 brightness, 1 contrast, 2 saturation
} JitterParams;

// torchvision RandomResizedCrop.get_params for an image of height x width.
void rrc_sample(Rng* rng, int height, int width, const float scale[2], const float ratio[2], CropBox* box);

// resized_crop(box -> out_h x out_w).
void resample_for_crop(const CropBox* box, int out_h, int out_w, int flip, ResampleSpec* spec);
// Resize(shorter side -> resize) then CenterCrop(out_size); resize >= out_size.
void resample_for_center(int height, int width, int resize, int out_size, ResampleSpec* spec);
// The size Resize(resize) gives an image of height x width (torchvision's rule).
void center_resize_dims(int height, int width, int resize, int* new_h, int* new_w);
// Re-expresses spec for an image decoded at `ratio` of its size (DCT-scaled
// JPEG decoding: scaled pixel i covers full pixels [i/ratio, (i+1)/ratio)),
// scaled_h x scaled_w pixels.
void resample_rescale(ResampleSpec* spec, double ratio, int scaled_h, int scaled_w);

// Bilinear resampling of src [h][w][channels] (uint8) into out [out_h][out_w][channels]:
// out = value * mul[c] + add[c]. mul = 1/255, add = 0 gives [0, 1];
// mul = 1/(255 std), add = -mean/std gives the normalized sample.
void resample_bilinear(const uint8_t* src, int h, int w, int channels, const ResampleSpec* spec,
                       const float* mul, const float* add, float* out);

// Offsets of the out_size x out_size window of a rows x cols image padded by
// `pad` zeros: random (torchvision RandomCrop with padding) or centred.
void pad_crop_sample(Rng* rng, int rows, int cols, int out_size, int pad, int* top, int* left);
void pad_crop_center(int rows, int cols, int out_size, int* top, int* left);
// Copies the window at (top, left) (zero outside the image), optionally
// mirrored, into out [out_size][out_size][1] as value * mul + add.
void pad_crop_apply(const uint8_t* src, int rows, int cols, int out_size, int top, int left, int flip,
                    float mul, float add, float* out);

// ColorJitter(j, j, j): factors uniform in [max(0, 1-j), 1+j], random order.
void jitter_sample(Rng* rng, float strength, JitterParams* p);
// Applies p to img [h][w][channels] holding values in [0, 1] (channels 1 or 3).
void jitter_apply(float* img, int h, int w, int channels, const JitterParams* p);
// img = (img - mean[c]) / std[c].
void normalize_apply(float* img, size_t pixels, int channels, const float* mean, const float* std);

#ifdef __cplusplus
}
#endif
#endif
