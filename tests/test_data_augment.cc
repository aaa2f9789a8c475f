// Augmentation: geometry and colour against torchvision 0.14 for fixed
// parameters (tools/ref_cases/augment.py), RandomResizedCrop sampling
// statistics, pad-crop and flip.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "data/augment.h"
#include "test_util.h"

namespace {

const char* kFamily = "augment";
// Bilinear weights and normalization in float; torch evaluates the same
// expression with another association/vectorization: errors of ~3e-6 seen.
const float kAtol = 1e-5f, kRtol = 0.0f;

struct RefImage {
    std::vector<uint8_t> pixels;
    int h = 0, w = 0, c = 0;
    float mul[3], add[3], mean[3], std[3];
};

RefImage load_image(const std::string& name, int h, int w, int c) {
    RefImage im;
    auto px = ref_ints(kFamily, name + "/image", (size_t)h * w * c);
    auto ms = ref_floats(kFamily, name + "/mean_std", (size_t)2 * c);
    if (px.empty() || ms.empty()) return im;
    im.pixels.assign(px.begin(), px.end());
    im.h = h, im.w = w, im.c = c;
    for (int k = 0; k < c; k++) {
        im.mean[k] = ms[k];
        im.std[k] = ms[c + k];
        im.mul[k] = 1.0f / (255.0f * im.std[k]);
        im.add[k] = -im.mean[k] / im.std[k];
    }
    return im;
}

void check_image(const std::string& name, int h, int w, int c) {
    RefImage im = load_image(name, h, w, c);
    ASSERT_FALSE(im.pixels.empty());
    for (int k = 0; ref_has(kFamily, name + "/crop" + std::to_string(k) + "/params"); k++) {
        std::string p = name + "/crop" + std::to_string(k);
        auto prm = ref_ints(kFamily, p + "/params", 7);
        ASSERT_FALSE(prm.empty());
        CropBox box = {prm[0], prm[1], prm[2], prm[3]};
        ResampleSpec spec;
        resample_for_crop(&box, prm[4], prm[5], prm[6], &spec);
        std::vector<float> out((size_t)prm[4] * prm[5] * c);
        resample_bilinear(im.pixels.data(), h, w, c, &spec, im.mul, im.add, out.data());
        expect_close(p, out, ref_floats(kFamily, p + "/out", out.size()), kAtol, kRtol);
    }
    for (int k = 0; ref_has(kFamily, name + "/center" + std::to_string(k) + "/params"); k++) {
        std::string p = name + "/center" + std::to_string(k);
        auto prm = ref_ints(kFamily, p + "/params", 2);
        ASSERT_FALSE(prm.empty());
        ResampleSpec spec;
        resample_for_center(h, w, prm[0], prm[1], &spec);
        std::vector<float> out((size_t)prm[1] * prm[1] * c);
        resample_bilinear(im.pixels.data(), h, w, c, &spec, im.mul, im.add, out.data());
        expect_close(p, out, ref_floats(kFamily, p + "/out", out.size()), kAtol, kRtol);
    }
    for (int k = 0; ref_has(kFamily, name + "/jitter" + std::to_string(k) + "/params"); k++) {
        std::string p = name + "/jitter" + std::to_string(k);
        auto prm = ref_ints(kFamily, p + "/params", 4);
        auto fac = ref_floats(kFamily, p + "/factors", 3);
        ASSERT_FALSE(prm.empty() || fac.empty());
        auto crop = ref_ints(kFamily, name + "/crop" + std::to_string(prm[0]) + "/params", 7);
        CropBox box = {crop[0], crop[1], crop[2], crop[3]};
        ResampleSpec spec;
        resample_for_crop(&box, crop[4], crop[5], crop[6], &spec);
        std::vector<float> out((size_t)crop[4] * crop[5] * c);
        const float unit_mul[3] = {1 / 255.0f, 1 / 255.0f, 1 / 255.0f}, zero[3] = {0, 0, 0};
        resample_bilinear(im.pixels.data(), h, w, c, &spec, unit_mul, zero, out.data());
        JitterParams jp = {fac[0], fac[1], fac[2], {prm[1], prm[2], prm[3]}};
        jitter_apply(out.data(), crop[4], crop[5], c, &jp);
        normalize_apply(out.data(), (size_t)crop[4] * crop[5], c, im.mean, im.std);
        expect_close(p, out, ref_floats(kFamily, p + "/out", out.size()), kAtol, kRtol);
    }
}

}  // namespace

TEST(DataAugment, MatchesTorchvisionRgb) { check_image("rgb", 37, 53, 3); }
TEST(DataAugment, MatchesTorchvisionPortrait) { check_image("portrait", 53, 37, 3); }
TEST(DataAugment, MatchesTorchvisionGray) { check_image("gray", 37, 53, 1); }

TEST(DataAugment, CenterCropGeometry) {
    // torchvision: Resize(256) of 375x500 -> 256x341; CenterCrop(224): top 16, left round(58.5) = 58.
    int nh, nw;
    center_resize_dims(375, 500, 256, &nh, &nw);
    EXPECT_EQ(nh, 256);
    EXPECT_EQ(nw, 341);
    center_resize_dims(500, 375, 256, &nh, &nw);
    EXPECT_EQ(nh, 341);
    EXPECT_EQ(nw, 256);
    ResampleSpec s;
    resample_for_center(375, 500, 256, 224, &s);
    EXPECT_EQ(s.offset_y, 16);
    EXPECT_EQ(s.offset_x, 58);
    EXPECT_FLOAT_EQ(s.scale_y, 375.0f / 256.0f);
    EXPECT_FLOAT_EQ(s.scale_x, 500.0f / 341.0f);
}

// Statistics of torchvision's sampling rule against torchvision's own draws
// (we do not reproduce torch's RNG stream): mean area fraction and mean
// log aspect ratio within 4.5 standard errors, hard bounds on every box.
TEST(DataAugment, RandomResizedCropSampling) {
    const float scale[2] = {0.08f, 1.0f}, ratio[2] = {0.75f, 4.0f / 3.0f};
    struct Shape { int h, w; } shapes[] = {{375, 500}, {500, 375}, {64, 64}, {31, 97}};
    for (auto sh : shapes) {
        std::string name = "rrc/" + std::to_string(sh.h) + "x" + std::to_string(sh.w);
        auto ref = ref_floats(kFamily, name, 5);
        ASSERT_FALSE(ref.empty());
        Rng rng;
        rng_seed(&rng, 42, sh.h, sh.w, 0);
        const int n = 20000;
        double area_sum = 0, logr_sum = 0, centre_sum = 0;
        for (int i = 0; i < n; i++) {
            CropBox b;
            rrc_sample(&rng, sh.h, sh.w, scale, ratio, &b);
            ASSERT_GE(b.top, 0);
            ASSERT_GE(b.left, 0);
            ASSERT_GE(b.height, 1);
            ASSERT_GE(b.width, 1);
            ASSERT_LE(b.top + b.height, sh.h);
            ASSERT_LE(b.left + b.width, sh.w);
            double frac = (double)b.height * b.width / ((double)sh.h * sh.w);
            double r = (double)b.width / b.height;
            // Rounding w and h to integers moves area and ratio by up to ~1/side.
            double slack = 1.5 / std::min(b.height, b.width);
            EXPECT_GE(frac, 0.08 * (1 - 2 * slack) - 1e-9);
            EXPECT_LE(frac, 1.0 + 1e-9);
            if (!(b.height == sh.h && b.width == sh.w)) {  // the whole image may come from the fallback
                EXPECT_GE(r, 0.75 * (1 - 2 * slack));
                EXPECT_LE(r, 4.0 / 3.0 * (1 + 2 * slack));
            }
            area_sum += frac;
            logr_sum += std::log(r);
            centre_sum += (b.top + b.height / 2.0) / sh.h;
        }
        double mean_area = area_sum / n, mean_logr = logr_sum / n;
        double tol_area = 4.5 * ref[1] * std::sqrt(1.0 / n + 1.0 / ref[4]);
        double tol_logr = 4.5 * ref[3] * std::sqrt(1.0 / n + 1.0 / ref[4]);
        std::printf("rrc %s: area fraction %.4f (torchvision %.4f +- %.4f), log ratio %+.4f (torchvision %+.4f +- %.4f)\n",
                    name.c_str(), mean_area, ref[0], tol_area, mean_logr, ref[2], tol_logr);
        EXPECT_NEAR(mean_area, ref[0], tol_area) << name;
        EXPECT_NEAR(mean_logr, ref[2], tol_logr) << name;
        // The position is uniform given the size, so the mean centre is the image centre.
        EXPECT_NEAR(centre_sum / n, 0.5, 0.01) << name;
    }
}

TEST(DataAugment, RandomResizedCropFallback) {
    // Every attempt fails on a 10x1000 strip with scale >= 0.9 (h would exceed
    // 10), so torchvision returns the central crop clamped to the max ratio:
    // h = 10, w = round(10 * 4/3) = 13, top 0, left (1000 - 13) // 2 = 493.
    const float scale[2] = {0.9f, 1.0f}, ratio[2] = {0.75f, 4.0f / 3.0f};
    Rng rng;
    rng_seed(&rng, 1, 2, 3, 4);
    CropBox b;
    rrc_sample(&rng, 10, 1000, scale, ratio, &b);
    EXPECT_EQ(b.top, 0);
    EXPECT_EQ(b.left, 493);
    EXPECT_EQ(b.height, 10);
    EXPECT_EQ(b.width, 13);
    // Tall strip: w = 10, h = round(10 / 0.75) = 13, top (1000 - 13) // 2 = 493.
    rrc_sample(&rng, 1000, 10, scale, ratio, &b);
    EXPECT_EQ(b.top, 493);
    EXPECT_EQ(b.left, 0);
    EXPECT_EQ(b.height, 13);
    EXPECT_EQ(b.width, 10);
    // In-range aspect ratio with an impossible scale: the whole image.
    const float big[2] = {1.5f, 2.0f};
    rrc_sample(&rng, 30, 35, big, ratio, &b);
    EXPECT_EQ(b.top, 0);
    EXPECT_EQ(b.left, 0);
    EXPECT_EQ(b.height, 30);
    EXPECT_EQ(b.width, 35);
}

TEST(DataAugment, PadCropAndFlip) {
    // RandomCrop(28, padding=2): offsets -2..2, each about equally often.
    Rng rng;
    rng_seed(&rng, 5, 0, 0, 0);
    std::set<int> tops, lefts;
    for (int i = 0; i < 2000; i++) {
        int t, l;
        pad_crop_sample(&rng, 28, 28, 28, 2, &t, &l);
        ASSERT_GE(t, -2);
        ASSERT_LE(t, 2);
        ASSERT_GE(l, -2);
        ASSERT_LE(l, 2);
        tops.insert(t);
        lefts.insert(l);
    }
    EXPECT_EQ(tops.size(), 5u);
    EXPECT_EQ(lefts.size(), 5u);
    int t, l;
    pad_crop_center(28, 28, 28, &t, &l);
    EXPECT_EQ(t, 0);
    EXPECT_EQ(l, 0);
    pad_crop_center(5, 7, 8, &t, &l);  // larger window: centred, floor
    EXPECT_EQ(t, -2);
    EXPECT_EQ(l, -1);

    const int rows = 5, cols = 7, size = 6;
    std::vector<uint8_t> src(rows * cols);
    for (int i = 0; i < rows * cols; i++) src[i] = (uint8_t)(10 + i);
    std::vector<float> out(size * size), flipped(size * size);
    pad_crop_apply(src.data(), rows, cols, size, -1, 2, 0, 2.0f, -1.0f, out.data());
    pad_crop_apply(src.data(), rows, cols, size, -1, 2, 1, 2.0f, -1.0f, flipped.data());
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int sy = y - 1, sx = x + 2;
            float v = (sy >= 0 && sy < rows && sx < cols) ? src[sy * cols + sx] : 0.0f;
            EXPECT_EQ(out[y * size + x], v * 2.0f - 1.0f) << y << "," << x;
            EXPECT_EQ(flipped[y * size + size - 1 - x], out[y * size + x]);
        }
}

TEST(DataAugment, JitterSampling) {
    Rng rng;
    rng_seed(&rng, 9, 0, 0, 0);
    std::set<std::vector<int>> orders;
    for (int i = 0; i < 500; i++) {
        JitterParams p;
        jitter_sample(&rng, 0.4f, &p);
        for (float f : {p.brightness, p.contrast, p.saturation}) {
            EXPECT_GE(f, 0.6f);
            EXPECT_LE(f, 1.4f);
        }
        std::vector<int> o(p.order, p.order + 3);
        std::vector<int> sorted = o;
        std::sort(sorted.begin(), sorted.end());
        EXPECT_EQ(sorted, (std::vector<int>{0, 1, 2}));
        orders.insert(o);
    }
    EXPECT_EQ(orders.size(), 6u);
}

// A linear ramp survives bilinear resampling exactly, so a scaled-source
// sampling (DCT-scaled decode) must give the same output when the mapping of
// coordinates is right; a half-pixel slip would show as an offset.
TEST(DataAugment, RescaledSourceKeepsGeometry) {
    const int h = 64, w = 96;
    auto ramp = [](double y, double x) { return 0.75 * x + 0.5 * y + 20; };
    std::vector<uint8_t> full(h * w);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) full[y * w + x] = (uint8_t)std::lround(ramp(y, x));
    // The half-size image a 1/2 DCT-scaled decode approximates: 2x2 box averages.
    const int sh = h / 2, sw = w / 2;
    std::vector<uint8_t> half(sh * sw);
    for (int y = 0; y < sh; y++)
        for (int x = 0; x < sw; x++) half[y * sw + x] = (uint8_t)std::lround(ramp(2 * y + 0.5, 2 * x + 0.5));
    CropBox box = {6, 10, 40, 60};
    ResampleSpec a, b;
    resample_for_crop(&box, 17, 19, 0, &a);
    b = a;
    resample_rescale(&b, 0.5, sh, sw);
    const float mul = 1.0f, add = 0.0f;
    std::vector<float> oa(17 * 19), ob(17 * 19);
    resample_bilinear(full.data(), h, w, 1, &a, &mul, &add, oa.data());
    resample_bilinear(half.data(), sh, sw, 1, &b, &mul, &add, ob.data());
    // Rounding the sources to uint8 allows 0.5 + 0.5; the crop edges stay inside.
    expect_close("rescaled vs full", ob, oa, 1.0f, 0.0f);
}
