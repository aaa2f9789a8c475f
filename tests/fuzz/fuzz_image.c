// Image decoding (data/image_decode.c: TurboJPEG, Debian's stb_image) and
// the geometry of augmentation over whatever shape a file claims
// (RandomResizedCrop with extreme scale/ratio, Resize + CenterCrop, pad-crop).
// The first 8 bytes are parameters, the rest is the image file.
#include "common/rng.h"
#include "data/augment.h"
#include "data/image_decode.h"
#include "fuzz_input.h"

enum { OUT_MAX = 32 };

static void fuzz_geometry(const DecodedImage* img, const uint8_t* p) {
    static float out[OUT_MAX * OUT_MAX * 3];
    const float mul[3] = {1.0f / 255, 1.0f / 255, 1.0f / 255}, add[3] = {0, 0, 0};
    int out_size = 1 + p[2] % OUT_MAX;
    float scale[2] = {(p[3] % 101) / 100.0f, 1.0f};
    float ratio[2] = {0.01f + (p[4] % 100) / 25.0f, 0.0f};
    ratio[1] = ratio[0] + (p[5] % 100) / 10.0f;
    if (scale[0] <= 0) scale[0] = 0.01f;
    Rng rng;
    rng_seed(&rng, p[6], p[7], 0, 0);
    CropBox box;
    ResampleSpec spec;
    rrc_sample(&rng, img->height, img->width, scale, ratio, &box);
    resample_for_crop(&box, out_size, out_size, p[6] & 1, &spec);
    resample_bilinear(img->pixels, img->height, img->width, img->channels, &spec, mul, add, out);
    int resize = out_size + p[7] % 64;
    resample_for_center(img->height, img->width, resize, out_size, &spec);
    resample_bilinear(img->pixels, img->height, img->width, img->channels, &spec, mul, add, out);
    if (img->channels == 1) {
        int top, left;
        pad_crop_sample(&rng, img->height, img->width, out_size, p[5] % 8, &top, &left);
        pad_crop_apply(img->pixels, img->height, img->width, out_size, top, left, p[4] & 1, mul[0], 0.0f, out);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static ImageDecoder dec;
    static int ready;
    HwErr err = {0};
    if (!ready) {
        if (image_decoder_init(&dec, &err) < 0) abort();
        ready = 1;
    }
    if (size < 8) return 0;
    FuzzFile f;
    fuzz_file_open(&f, data + 8, size - 8);
    int channels = data[0] & 1 ? 3 : 1;
    double shrink = 1.0 + (data[1] % 16);  // exercises DCT-scaled JPEG decoding
    DecodedImage img;
    if (image_open_file(&dec, f.path) == 0 && image_decode(&dec, channels, shrink, &img) == 0)
        fuzz_geometry(&img, data);
    fuzz_file_close(&f);
    return 0;
}
