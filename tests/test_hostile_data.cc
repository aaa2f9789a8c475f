// Hostile data (issue 16, findings 1-4, 9 and 12): data whose samples do not
// fit the space's input, images of extreme shapes, 16-bit PNM that crashes
// stb_image 2.27, decompression bombs, JPEGs with too little scan data and
// symlink loops in image folders. Every hostile file is made here at run
// time; a corrupt image must be skipped and counted, never fatal, and a
// data/space mismatch must be one error line (exit 2) before anything runs.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/image_decode.h"
#include "data/imagefolder.h"
#include "data/loader.h"
#include "kernels/ops.h"
#include "supernet/evaluate.h"
#include "supernet/trainer.h"
#include "test_data_util.h"
#include "test_util.h"
#include "train_reference.h"

namespace {

// ---- hostile files -------------------------------------------------------

std::string as_string(const std::vector<uint8_t>& v) { return std::string(v.begin(), v.end()); }

void put_be32s(std::string& s, uint32_t x) {
    for (int k = 24; k >= 0; k -= 8) s.push_back((char)(x >> k));
}

void put_le(std::string& s, uint32_t x, int bytes) {
    for (int k = 0; k < bytes; k++) s.push_back((char)(x >> (8 * k)));
}

void png_chunk(std::string& out, const char* type, const std::string& data) {
    put_be32s(out, (uint32_t)data.size());
    std::string body = std::string(type, 4) + data;
    out += body;
    put_be32s(out, (uint32_t)crc32(0, (const Bytef*)body.data(), (uInt)body.size()));
}

// A PNG of h rows of `row` bytes each (filter byte 0 prepended), gray or RGB,
// 8 or 16 bits per sample. Written here because stb_image_write has no
// 16-bit output and is slow for 16-megapixel strips.
std::string png_bytes(int w, int h, int depth, int color_type, const std::vector<uint8_t>& row) {
    std::vector<uint8_t> raw;
    for (int y = 0; y < h; y++) {
        raw.push_back(0);
        raw.insert(raw.end(), row.begin(), row.end());
    }
    uLongf packed_len = compressBound((uLong)raw.size());
    std::vector<uint8_t> packed(packed_len);
    EXPECT_EQ(compress2(packed.data(), &packed_len, raw.data(), (uLong)raw.size(), 1), Z_OK);
    packed.resize(packed_len);
    std::string out("\x89PNG\r\n\x1a\n", 8), ihdr;
    put_be32s(ihdr, (uint32_t)w);
    put_be32s(ihdr, (uint32_t)h);
    ihdr += std::string{(char)depth, (char)color_type, 0, 0, 0};
    png_chunk(out, "IHDR", ihdr);
    png_chunk(out, "IDAT", as_string(packed));
    png_chunk(out, "IEND", "");
    return out;
}

// A PNG whose IHDR declares w x h, then `pad` bytes of an ancillary chunk
// and no image data: enough for the header checks, which read IHDR only.
std::string png_header_only(int w, int h, int depth, int color_type, size_t pad) {
    std::string out("\x89PNG\r\n\x1a\n", 8), ihdr;
    put_be32s(ihdr, (uint32_t)w);
    put_be32s(ihdr, (uint32_t)h);
    ihdr += std::string{(char)depth, (char)color_type, 0, 0, 0};
    png_chunk(out, "IHDR", ihdr);
    png_chunk(out, "hwNs", std::string(pad, 'x'));
    return out;
}

std::string gray_png(int w, int h, uint8_t value) {
    return png_bytes(w, h, 8, 0, std::vector<uint8_t>((size_t)w, value));
}

std::string jpeg_bytes(int w, int h) {
    tjhandle tj = tjInitCompress();
    unsigned char* jpeg = nullptr;
    unsigned long size = 0;
    std::vector<uint8_t> px = test_pixels(h, w, 3, 5);
    EXPECT_EQ(tjCompress2(tj, px.data(), w, 0, h, TJPF_RGB, &jpeg, &size, TJSAMP_420, 90, 0), 0);
    std::string out((const char*)jpeg, size);
    tjFree(jpeg);
    tjDestroy(tj);
    return out;
}

// The same JPEG with the frame header (SOF0) claiming another size: the scan
// data then covers only the first rows.
std::string patch_jpeg_size(std::string jpeg, int w, int h) {
    size_t sof = jpeg.find("\xFF\xC0", 2);
    EXPECT_NE(sof, std::string::npos);
    if (sof == std::string::npos) return jpeg;
    jpeg[sof + 5] = (char)(h >> 8), jpeg[sof + 6] = (char)h;
    jpeg[sof + 7] = (char)(w >> 8), jpeg[sof + 8] = (char)w;
    return jpeg;
}

// A 24-bit BMP header declaring w x h followed by `payload` bytes of pixels
// (54 + 24 = 78 bytes for the bomb).
std::string bmp_bytes(int w, int h, size_t payload) {
    std::string s = "BM";
    put_le(s, (uint32_t)(54 + payload), 4);
    put_le(s, 0, 4);
    put_le(s, 54, 4);
    put_le(s, 40, 4);
    put_le(s, (uint32_t)w, 4);
    put_le(s, (uint32_t)h, 4);
    put_le(s, 1, 2);
    put_le(s, 24, 2);
    for (int i = 0; i < 6; i++) put_le(s, 0, 4);
    s += std::string(payload, '\x7f');
    return s;
}

// The 19-byte 16-bit PGM: 4000 x 4000, no pixel data.
const std::string kPgm16Header = "P5\n4000 4000\n65535\n";

// A complete 16-bit PGM of w x h (2 bytes per pixel).
std::string pgm16_bytes(int w, int h) {
    return "P5\n" + std::to_string(w) + " " + std::to_string(h) + "\n65535\n" + std::string((size_t)w * h * 2, '\x40');
}

// Opens bytes as the loader does: from a file (hwnas reads images only from
// files).
int open_bytes(ImageDecoder* d, const std::string& bytes) {
    TempDir dir("hostile_image");
    return image_open_file(d, dir.write("image", bytes).c_str());
}

// open + decode of one buffer; -1 with d.why when rejected.
int decode_buffer(const std::string& bytes, int channels, std::string* why) {
    ImageDecoder d;
    HwErr err = {};
    EXPECT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
    DecodedImage img;
    int rc = open_bytes(&d, bytes);
    if (rc == 0) rc = image_decode(&d, channels, 1.0, &img);
    if (why) *why = d.why;
    image_decoder_free(&d);
    return rc;
}

// ---- the hwnas binary ----------------------------------------------------

std::string bin() {
    const char* b = std::getenv("HWNAS_BIN");
    return b ? b : "build/hwnas";
}

struct Result {
    int code;
    std::string err;
};

Result run_hwnas(const std::string& args) {
    std::string dir = test_temp_dir("hostile_cli");
    int status = std::system((bin() + " " + args + " >" + dir + "/out 2>" + dir + "/err").c_str());
    std::ifstream f(dir + "/err", std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

// One line `hwnas: error: ...`, exit 2, naming the data's shape and the space's input.
void expect_mismatch_error(const Result& r, const std::string& what, const std::string& data_shape,
                           const std::string& space_input) {
    EXPECT_EQ(r.code, 2) << what << ": " << r.err;
    EXPECT_EQ(r.err.rfind("hwnas: error: ", 0), 0u) << what << ": " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << what << ": more than one line: " << r.err;
    for (const std::string& needle : {data_shape, space_input, std::string("tests/spaces/fmnist-small.yaml")})
        EXPECT_NE(r.err.find(needle), std::string::npos) << what << ": no '" << needle << "' in: " << r.err;
}

}  // namespace

// ---- finding 1: data samples must have the space's input shape -------------

// Before the fix `train --set data.input_size=32` overflowed the batch
// buffers (malloc(): corrupted top size). Every command that feeds data to a
// supernet refuses the mismatch before it reads a target, a checkpoint or
// weights, and before it creates its output directory.
TEST(HostileData, DataSpaceMismatchIsRefusedByEveryCommand) {
    std::string dir = test_temp_dir("hostile_mismatch");
    std::string cfg = "-c tests/configs/smoke.yaml --set data.input_size=32 ";
    std::string none = dir + "/missing";
    struct Case {
        const char* what;
        std::string args, out;
    } cases[] = {
        {"train", "train " + cfg + "-o " + dir + "/train", dir + "/train"},
        {"search", "search " + cfg + "--supernet " + none + ".ckpt --target " + none + ".yaml -o " + dir + "/search",
         dir + "/search"},
        {"eval", "eval " + cfg + "--arch " + none + ".yaml --weights " + none + ".safetensors", ""},
        {"finetune", "finetune " + cfg + "--arch " + none + ".yaml --init " + none + ".safetensors -o " + dir + "/ft",
         dir + "/ft"},
        {"retrain", "retrain " + cfg + "--arch " + none + ".yaml -o " + dir + "/rt", dir + "/rt"},
        {"run", "run --quick " + cfg + "--target " + none + ".yaml -o " + dir + "/run", dir + "/run"},
        {"bench pipeline", "bench pipeline --quick " + cfg + "--set target=" + none + ".yaml -o " + dir + "/bench",
         dir + "/bench/spos-pool/config.yaml"},
    };
    for (const Case& c : cases) {
        Result r = run_hwnas(c.args);
        // bench pipeline names the method it starts before the error line.
        if (r.err.rfind("hwnas bench pipeline: ", 0) == 0) r.err.erase(0, r.err.find('\n') + 1);
        expect_mismatch_error(r, c.what, "32x32x1", "[28, 28, 1]");
        if (!c.out.empty()) {
            EXPECT_FALSE(exists(c.out)) << c.what << " wrote " << c.out;
        }
    }
}

// 3-channel image folder data against the 1-channel space.
TEST(HostileData, ChannelMismatchIsRefusedBeforeTraining) {
    TempDir data{"hostile_rgb"};
    ASSERT_TRUE(build_test_folder(data.path));
    std::string dir = test_temp_dir("hostile_rgb_run");
    std::string args = "train -c tests/configs/smoke.yaml --set data.kind=imagefolder --set data.root=" + data.path +
                       " --set data.channels=3 --set data.holdout=0 --set data.limit_train=0 --set train.batch=4"
                       " -o " + dir + "/run";
    expect_mismatch_error(run_hwnas(args), "train", "28x28x3", "[28, 28, 1]");
    EXPECT_FALSE(exists(dir + "/run"));
}

// The library refuses it too, for callers that skip the command's check: the
// trainer and the evaluator stop at their first batch instead of writing
// 32x32 samples into buffers sized for 28x28.
TEST(HostileData, BatchFeedRefusesSamplesOfAnotherShape) {
    FeedSetup s(&ops_cpu, {2, nullptr}, 0);
    s.cfg.data.input_size = 32;
    Supernet* sn = s.net();
    ASSERT_NE(sn, nullptr);
    TempDir run{"hostile_feed"};
    TrainJob job = {};
    job.train = &s.cfg.train;
    job.data = &s.cfg.data;
    job.config_path = s.cfg.path;
    job.run_dir = run.path.c_str();
    job.checkpoint_name = "supernet.ckpt";
    job.csv_name = "train.csv";
    job.epochs = 1;
    job.lr = 0.1f;
    job.quiet = 1;
    TrainResult res;
    HwErr err = {};
    EXPECT_EQ(train_run(sn, &job, &res, &err), -1) << "trained on 32x32 samples in a 28x28 supernet";
    EXPECT_EQ(err.code, HW_EXIT_INPUT) << err.msg;
    EXPECT_NE(std::string(err.msg).find("32x32x1"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("[28, 28, 1]"), std::string::npos) << err.msg;

    err = {};
    EvalOptions valid = {&s.cfg.data, SPLIT_VALID, 64, 64, s.cfg.search.bn_mode, s.cfg.search.seed};
    Evaluator* ev = evaluator_create(sn, &valid, &err);
    ASSERT_NE(ev, nullptr) << err.msg;
    std::vector<int> path((size_t)sn->space.n_layers, 0);
    EXPECT_EQ(evaluator_recalibrate(ev, path.data(), &err), -1) << "recalibrated on 32x32 samples";
    EXPECT_NE(std::string(err.msg).find("[28, 28, 1]"), std::string::npos) << err.msg;
    evaluator_destroy(ev);
    supernet_destroy(sn);
}

// ---- finding 2: centre crop of extreme shapes --------------------------------

// resize * 16777216 / 1 = 2^32 wrapped to 0 in int: the scale became infinite
// and the source index INT_MIN (a segfault in hwnas bench data --val).
TEST(HostileData, CenterCropOfAnExtremeStripStaysInTheImage) {
    const int strip = 1 << 24, resize = 256, out = 224;
    for (int wide = 0; wide < 2; wide++) {
        int h = wide ? 1 : strip, w = wide ? strip : 1, nh, nw;
        center_resize_dims(h, w, resize, &nh, &nw);
        ASSERT_GE(nh, resize) << h << "x" << w << " resized to " << nh << "x" << nw;
        ASSERT_GE(nw, resize) << h << "x" << w << " resized to " << nh << "x" << nw;
        ResampleSpec spec;
        resample_for_center(h, w, resize, out, &spec);
        ASSERT_TRUE(std::isfinite(spec.scale_x) && std::isfinite(spec.scale_y) && spec.scale_x > 0 && spec.scale_y > 0)
            << spec.scale_y << " " << spec.scale_x;
        std::vector<uint8_t> src((size_t)h * w * 3, 200);
        std::vector<float> dst((size_t)out * out * 3);
        const float mul[3] = {1, 1, 1}, add[3] = {0, 0, 0};
        resample_bilinear(src.data(), h, w, 3, &spec, mul, add, dst.data());
        for (float v : dst) ASSERT_FLOAT_EQ(v, 200.0f);
    }
    // Ordinary shapes keep torchvision's geometry exactly.
    int nh, nw;
    center_resize_dims(375, 500, 256, &nh, &nw);
    EXPECT_EQ(nh, 256);
    EXPECT_EQ(nw, 341);
}

// ---- finding 3: 16-bit PNM -------------------------------------------------

// stb_image 2.27 converts a 16-bit PNM to the requested channel count as if
// it were 8-bit, then reads twice the buffer: the 19-byte file was a
// segfault. 16-bit PNM is refused before stb sees it; 16-bit PNG still decodes.
TEST(HostileData, SixteenBitPnmIsRejectedBeforeStb) {
    std::string why;
    for (int channels : {1, 3}) {
        EXPECT_EQ(decode_buffer(kPgm16Header, channels, &why), -1) << "the 19-byte 16-bit PGM decoded";
        EXPECT_EQ(decode_buffer(pgm16_bytes(64, 48), channels, &why), -1) << "a 16-bit PGM decoded";
        EXPECT_NE(why.find("16-bit"), std::string::npos) << why;
    }
    // A 16-bit gray PNG (every sample 0x8000) decodes to 128.
    std::vector<uint8_t> row(2 * 5);
    for (size_t i = 0; i < row.size(); i += 2) row[i] = 0x80, row[i + 1] = 0x00;
    ImageDecoder d;
    HwErr err = {};
    ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
    std::string png = png_bytes(5, 3, 16, 0, row);
    ASSERT_EQ(open_bytes(&d, png), 0) << d.why;
    DecodedImage img;
    ASSERT_EQ(image_decode(&d, 3, 1.0, &img), 0) << d.why;
    EXPECT_EQ(img.height, 3);
    EXPECT_EQ(img.width, 5);
    for (int i = 0; i < 3 * 5 * 3; i++) EXPECT_EQ(img.pixels[i], 128) << i;
    image_decoder_free(&d);
}

// ---- finding 4: RandomResizedCrop fallback on 1-pixel sides -----------------

// ratio [0.01, 0.2] on a 1x1 image: w = round(1 * 0.2) = 0 and the last
// column -1. The fallback crop keeps at least one pixel and stays inside.
TEST(HostileData, RandomResizedCropFallbackKeepsOnePixel) {
    const float scale[2] = {0.08f, 1.0f};
    const float ratios[2][2] = {{0.01f, 0.2f}, {5.0f, 100.0f}};
    const int shapes[][2] = {{1, 1}, {1, 2}, {2, 1}, {1, 9}, {9, 1}, {1, 300}, {300, 1}};
    Rng rng;
    rng_seed(&rng, 4, 0, 0, 0);
    for (const auto& ratio : ratios)
        for (const auto& hw : shapes) {
            int h = hw[0], w = hw[1];
            CropBox b;
            rrc_sample(&rng, h, w, scale, ratio, &b);
            ASSERT_TRUE(b.height >= 1 && b.width >= 1 && b.top >= 0 && b.left >= 0 && b.top + b.height <= h &&
                        b.left + b.width <= w)
                << h << "x" << w << " ratio [" << ratio[0] << ", " << ratio[1] << "]: crop " << b.height << "x"
                << b.width << " at " << b.top << "," << b.left;
            ResampleSpec spec;
            resample_for_crop(&b, 8, 8, 1, &spec);
            std::vector<uint8_t> src((size_t)h * w, 77);
            std::vector<float> dst(64);
            const float mul[1] = {1}, add[1] = {0};
            resample_bilinear(src.data(), h, w, 1, &spec, mul, add, dst.data());
            for (float v : dst) ASSERT_FLOAT_EQ(v, 77.0f);
        }
}

// ---- finding 9: symlink loops in image folders ------------------------------

// Three links to "." kept the scan busy for over 90 s (3^16 paths down to the
// depth limit). Every directory is walked once per class: the loops add
// nothing, a link to a directory outside the class is still followed.
TEST(HostileData, SymlinkLoopsInAnImageFolderAreWalkedOnce) {
    TempDir t{"hostile_links"};
    std::string train = t / "train";
    make_dirs(train + "/cat/sub");
    make_dirs(t / "elsewhere");
    ASSERT_TRUE(t.write("train/cat/a.png", gray_png(3, 3, 10)).size());
    ASSERT_TRUE(t.write("train/cat/sub/b.png", gray_png(3, 3, 20)).size());
    ASSERT_TRUE(t.write("elsewhere/c.png", gray_png(3, 3, 30)).size());
    for (const char* link : {"self1", "self2", "self3"}) ASSERT_EQ(symlink(".", (train + "/cat/" + link).c_str()), 0);
    ASSERT_EQ(symlink("..", (train + "/cat/sub/up").c_str()), 0);
    ASSERT_EQ(symlink("../../elsewhere", (train + "/cat/more").c_str()), 0);
    // The scan runs in a child process with an alarm, so the unfixed scan fails
    // this test instead of hanging it.
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        alarm(20);
        ImageList l;
        HwErr err = {};
        int rc = imagefolder_scan(train.c_str(), nullptr, 0, nullptr, &l, &err);
        int count = rc == 0 ? l.count : -1;
        if (rc == 0) image_list_free(&l);
        _exit(count < 0 ? 100 : count > 99 ? 99 : count);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_FALSE(WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM) << "the scan still ran after 20 s";
    ASSERT_TRUE(WIFEXITED(status)) << "the scan died with signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 3) << "files listed (a.png, sub/b.png, more/c.png once each; 100 = scan failed)";
}

// ---- finding 12: decompression bombs and truncated scans --------------------

// The bombs: a JPEG of under 1 KB patched to 16384 x 16128 (793 MB of
// RGB) and a 78-byte BMP declaring 11430 x 11430 (391 MB). Their headers are
// refused before any pixel buffer is allocated; so are sizes under the pixel
// cap that the file is far too small to hold.
TEST(HostileData, DecompressionBombsAreRejectedFromTheirHeaders) {
    std::string small = jpeg_bytes(16, 16);
    ASSERT_LT(small.size(), 1200u);
    const std::string bombs[] = {patch_jpeg_size(small, 16384, 16128), patch_jpeg_size(small, 8000, 8000),
                                 bmp_bytes(11430, 11430, 24), bmp_bytes(4000, 4000, 24)};
    const char* names[] = {"JPEG 16384x16128", "JPEG 8000x8000", "BMP 11430x11430", "BMP 4000x4000"};
    for (int i = 0; i < 4; i++) {
        ImageDecoder d;
        HwErr err = {};
        ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
        EXPECT_EQ(open_bytes(&d, bombs[i]), -1)
            << names[i] << " in " << bombs[i].size() << " bytes was accepted for decoding";
        EXPECT_EQ(d.pixels_cap, 0u) << names[i];
        image_decoder_free(&d);
    }
    // 6000 x 6000 is under the pixel cap, but stb_image would first decode
    // 16-bit RGBA at 8 bytes per pixel (288 MB); 8-bit RGB (108 MB) is fine.
    ImageDecoder d;
    HwErr err = {};
    ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
    std::string rgba16 = png_header_only(6000, 6000, 16, 6, 8000), rgb8 = png_header_only(6000, 6000, 8, 2, 8000);
    EXPECT_EQ(open_bytes(&d, rgba16), -1) << "16-bit RGBA 6000x6000 accepted";
    EXPECT_NE(std::string(d.why).find("IMAGE_MAX_SOURCE_BYTES"), std::string::npos) << d.why;
    EXPECT_EQ(open_bytes(&d, rgb8), 0) << d.why;
    image_decoder_free(&d);
    // Within the caps: an ordinary JPEG and BMP still decode.
    EXPECT_EQ(decode_buffer(small, 3, nullptr), 0);
    EXPECT_EQ(decode_buffer(bmp_bytes(4, 3, 4 * 3 * 3), 3, nullptr), 0);
    EXPECT_GE((long long)IMAGE_MAX_PIXELS, 8192LL * 8192);
    EXPECT_LE((long long)IMAGE_MAX_PIXELS, 1LL << 26);
}

// libjpeg reports scan data that ends early ("Corrupt JPEG data: premature end
// of data segment") as a warning and fills the rest with grey; the image is
// corrupt and must be skipped.
TEST(HostileData, JpegWithTooLittleScanDataIsCorrupt) {
    std::string jpeg = patch_jpeg_size(jpeg_bytes(64, 64), 64, 256);
    std::string why;
    EXPECT_EQ(decode_buffer(jpeg, 3, &why), -1) << "a JPEG with a quarter of its scan data decoded";
    EXPECT_NE(why.find("premature end"), std::string::npos) << why;
    // A file cut short (no EOI) as before.
    std::string full = jpeg_bytes(64, 64);
    EXPECT_EQ(decode_buffer(full.substr(0, full.size() / 2), 3, &why), -1);
}

// ---- all of it in one folder -----------------------------------------------

// Training (RandomResizedCrop with ratio [0.01, 0.2]) and validation (resize
// + centre crop) over a folder of hostile files: every bad file is skipped
// and counted once, the 1-pixel and 1 x 16777216 images load.
TEST(HostileData, HostileFolderLoadsWithBadFilesSkipped) {
    TempDir t{"hostile_folder"};
    make_dirs(t / "train/a");
    make_dirs(t / "train/b");
    make_dirs(t / "val/a");
    std::string jpeg = jpeg_bytes(16, 16);
    t.write("train/a/ok.jpg", jpeg);
    t.write("train/a/one.png", gray_png(1, 1, 50));
    t.write("train/a/row.png", gray_png(7, 1, 60));
    t.write("train/b/column.png", gray_png(1, 7, 70));
    t.write("train/b/pgm16.pgm", kPgm16Header);
    t.write("train/b/bomb.jpg", patch_jpeg_size(jpeg, 16384, 16128));
    t.write("train/b/bomb.bmp", bmp_bytes(11430, 11430, 24));
    t.write("train/b/short.jpg", patch_jpeg_size(jpeg_bytes(64, 64), 64, 256));
    t.write("val/a/strip.png", gray_png(1 << 24, 1, 90));
    t.write("val/a/ok.jpg", jpeg);
    DataSection cfg = folder_section(t.path, 8, 256);  // resize 256: 256 * 2^24 wrapped
    cfg.rrc_ratio[0] = 0.01f, cfg.rrc_ratio[1] = 0.2f;
    cfg.workers = 0;
    const int bad[2] = {4, 0};
    for (int val = 0; val < 2; val++) {
        HwErr err = {};
        Dataset* ds = dataset_open(&cfg, val ? SPLIT_TEST : SPLIT_TRAIN, &err);
        ASSERT_NE(ds, nullptr) << err.msg;
        LoaderOptions opt = {};
        opt.batch = dataset_size(ds);
        opt.augment = !val;
        opt.world = 1;
        DataLoader* l = loader_create(ds, &opt, &err);
        ASSERT_NE(l, nullptr) << err.msg;
        std::vector<float> images((size_t)opt.batch * 8 * 8 * 3);
        std::vector<int> labels((size_t)opt.batch);
        for (int epoch = 0; epoch < 3; epoch++) {
            loader_start_epoch(l, epoch, 0);
            ASSERT_EQ(loader_next(l, images.data(), labels.data(), &err), opt.batch) << err.msg;
            for (float v : images) ASSERT_TRUE(std::isfinite(v));
        }
        EXPECT_EQ(dataset_skipped(ds), bad[val]) << (val ? "val" : "train");
        loader_destroy(l);
        dataset_close(ds);
    }
}

// A PNG whose IDAT chunk claims 1.5 GB in a 107-byte file: stb_image grows
// its buffer to the claim before reading (found by tests/fuzz/fuzz_image;
// these are its bytes). The header check refuses it before stb decodes.
TEST(HostileData, PngChunkLongerThanTheFileIsRejected) {
    static const unsigned char kPng[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
        0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x09,
        0x08, 0x02, 0x00, 0x00, 0x00, 0x89, 0xda, 0x00, 0x03, 0x5a, 0x00, 0x00,
        0x16, 0x49, 0x44, 0x41, 0x54, 0x78, 0x5e, 0x63, 0x64, 0x60, 0xe7, 0x13,
        0x25, 0x04, 0x98, 0xfe, 0x10, 0x01, 0x46, 0x15, 0xfd, 0x01, 0x00, 0x67,
        0x31, 0x1e, 0x6b, 0x1d, 0xe1, 0xe3, 0x08, 0x00, 0x00, 0x00, 0x00, 0x49,
        0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    };
    TempDir dir{"hostile"};
    std::string path = dir / "chunk.png";
    FILE* fp = fopen(path.c_str(), "wb");
    ASSERT_NE(fp, nullptr);
    ASSERT_EQ(fwrite(kPng, 1, sizeof kPng, fp), sizeof kPng);
    fclose(fp);
    ImageDecoder dec;
    HwErr err = {};
    ASSERT_EQ(image_decoder_init(&dec, &err), 0) << err.msg;
    EXPECT_EQ(image_open_file(&dec, path.c_str()), -1) << "a PNG with a chunk past its end was accepted";
    EXPECT_NE(std::string(dec.why).find("PNG chunk longer than the file"), std::string::npos) << dec.why;
    image_decoder_free(&dec);
}

// ---- PNG image data checked before stb_image --------------------------------

// A PNG of w x h 8-bit gray pixels whose zlib stream holds `raw` (filtered
// rows, as the caller lays them out), its IDAT cut to `keep` bytes of the
// compressed stream when keep > 0.
std::string png_with_raw(int w, int h, int interlace, const std::vector<uint8_t>& raw, size_t keep) {
    uLongf packed_len = compressBound((uLong)raw.size());
    std::vector<uint8_t> packed(packed_len);
    EXPECT_EQ(compress2(packed.data(), &packed_len, raw.data(), (uLong)raw.size(), 6), Z_OK);
    packed.resize(keep ? keep : packed_len);
    std::string out("\x89PNG\r\n\x1a\n", 8), ihdr;
    put_be32s(ihdr, (uint32_t)w);
    put_be32s(ihdr, (uint32_t)h);
    ihdr += std::string{8, 0, 0, 0, (char)interlace};
    png_chunk(out, "IHDR", ihdr);
    png_chunk(out, "IDAT", as_string(packed));
    png_chunk(out, "IEND", "");
    return out;
}

// The filtered rows of an Adam7-interlaced w x h gray image, every pixel v.
std::vector<uint8_t> adam7_rows(int w, int h, uint8_t v) {
    static const int pass[7][4] = {{0, 0, 8, 8}, {4, 0, 8, 8}, {0, 4, 4, 8}, {2, 0, 4, 4},
                                   {0, 2, 2, 4}, {1, 0, 2, 2}, {0, 1, 1, 2}};
    std::vector<uint8_t> raw;
    for (const auto& p : pass) {
        int pw = w > p[0] ? (w - p[0] + p[2] - 1) / p[2] : 0, ph = h > p[1] ? (h - p[1] + p[3] - 1) / p[3] : 0;
        for (int y = 0; pw > 0 && y < ph; y++) {
            raw.push_back(0);
            raw.insert(raw.end(), (size_t)pw, v);
        }
    }
    return raw;
}

// fuzz_image's finding (its 8 parameter bytes taken off): a 12x9 PNG whose
// IDAT chunk header says 22 bytes where 2 remain. Debian's stb_image 2.27
// inflated past the end and asked for 1.5 GB. Now zlib must see the stream
// end first, within the header's size; interlaced and complete PNGs decode.
TEST(HostileData, PngImageDataMustEndWithinTheHeadersSize) {
    static const unsigned char kFinding[] = {
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x09, 0x08, 0x02, 0x00, 0x00, 0x00, 0x89,
        0x00, 0xda, 0x03, 0x5a, 0x00, 0x00, 0x16, 0x49, 0x44, 0x41, 0x54, 0x78, 0x82};
    std::string why;
    EXPECT_EQ(decode_buffer(std::string((const char*)kFinding, sizeof kFinding), 3, &why), -1);
    EXPECT_NE(why.find("PNG image data that ends early"), std::string::npos) << why;

    std::vector<uint8_t> rows;
    for (int y = 0; y < 40; y++) rows.push_back(0), rows.insert(rows.end(), 30, 77);
    std::string whole = png_with_raw(30, 40, 0, rows, 0);
    ASSERT_EQ(decode_buffer(whole, 1, &why), 0) << why;
    size_t packed = whole.size() - 8 - 25 - 12 - 12;  // signature, IHDR, IDAT and IEND framing
    EXPECT_EQ(decode_buffer(png_with_raw(30, 40, 0, rows, packed / 2), 1, &why), -1) << "a cut stream decoded";
    EXPECT_NE(why.find("ends early"), std::string::npos) << why;

    std::vector<uint8_t> bomb(rows);
    for (int k = 0; k < 100; k++) bomb.insert(bomb.end(), rows.begin(), rows.end());
    EXPECT_EQ(decode_buffer(png_with_raw(30, 40, 0, bomb, 0), 1, &why), -1) << "101x the image data decoded";
    EXPECT_NE(why.find("larger than its header says"), std::string::npos) << why;

    for (int size : {1, 2, 5, 8, 13, 33}) {  // every Adam7 pass empty or not
        ImageDecoder d;
        HwErr err = {};
        ASSERT_EQ(image_decoder_init(&d, &err), 0) << err.msg;
        ASSERT_EQ(open_bytes(&d, png_with_raw(size, size + 3, 1, adam7_rows(size, size + 3, 91), 0)), 0) << d.why;
        DecodedImage img;
        ASSERT_EQ(image_decode(&d, 1, 1.0, &img), 0) << size << ": " << d.why;
        for (int i = 0; i < size * (size + 3); i++) ASSERT_EQ(img.pixels[i], 91) << size << " pixel " << i;
        image_decoder_free(&d);
    }
}
