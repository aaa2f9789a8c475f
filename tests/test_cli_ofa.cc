// A search on configs/spaces/ofa-mbv3.yaml under a Samsung Note10 latency
// limit, end to end through the CLI: the published OFA Note10 table imported
// whole, a supernet trained for one tiny epoch, the evolutionary search, and
// a best.yaml whose predicted Note10 latency is under the limit.
//
// The space is 224x224 RGB, so the data is a small image folder written here
// (2 classes of random-colour PNGs, 12 training images, 4 held out for the
// search); the space's 1000 outputs take the 2 classes. The limit is set
// between the fastest and the slowest network of the space on the table, so
// it rules networks out, and it is computed here from the table through the
// library, not from the CLI's output.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "cli_run.h"
#include "search/latency.h"
#include "search/lut.h"
#include "search/lut_import.h"
#include "supernet/arch.h"
#include "supernet/space.h"
#include "test_data_util.h"

namespace {

constexpr const char* kSpace = "configs/spaces/ofa-mbv3.yaml";

std::string shared_dir() {
    const char* d = std::getenv("HWNAS_SHARED");
    return d ? d : "../shared";
}

// root/{train,val}/{c0,c1}/N.png, 48x40 RGB, class 1 brighter than class 0.
void write_image_folder(const std::string& root) {
    uint64_t seed = 11;
    for (const char* split : {"train", "val"})
        for (int c = 0; c < 2; c++) {
            std::string dir = root + "/" + split + "/c" + std::to_string(c);
            make_dirs(dir);
            int n = std::string(split) == "train" ? 8 : 2;
            for (int i = 0; i < n; i++) {
                std::vector<float> v = random_floats(48 * 40 * 3, seed++, 0.0f, 128.0f);
                std::vector<unsigned char> px(v.size());
                for (size_t k = 0; k < v.size(); k++) px[k] = (unsigned char)(v[k] + 100.0f * c);
                std::string f = dir + "/" + std::to_string(i) + ".png";
                ASSERT_NE(stbi_write_png(f.c_str(), 48, 40, 3, px.data(), 48 * 3), 0) << f;
            }
        }
}

// The fastest and slowest networks of the space on the table (per layer the
// cheapest or dearest candidate: the latency is a sum over layers).
void latency_range(const Lut* lut, const Space* s, double* lo, double* hi) {
    std::vector<int> fast(s->n_layers), slow(s->n_layers);
    HwErr err = {{0}, 0};
    for (int l = 0; l < s->n_layers; l++) {
        double best = 1e30, worst = -1;
        for (int o = 0; o < s->layers[l].n_ops; o++) {
            double ms = 0;
            ASSERT_EQ(latency_of_layer_op(lut, s, l, o, &ms, &err), 0) << err.msg;
            if (ms < best) best = ms, fast[l] = o;
            if (ms > worst) worst = ms, slow[l] = o;
        }
    }
    ASSERT_EQ(latency_predict(lut, s, fast.data(), lo, &err), 0) << err.msg;
    ASSERT_EQ(latency_predict(lut, s, slow.data(), hi, &err), 0) << err.msg;
}

// `hwnas ARGS`, its output kept in dir/log-NAME.{out,err}.
cli::Result run(const std::string& dir, const char* name, const std::string& args) {
    return cli::run(args, dir + "/log-" + name);
}

}  // namespace

TEST(CliOfa, SearchUnderANote10LimitEndToEnd) {
    TempDir tmp("cli_ofa");
    std::string dir = tmp.path;
    write_image_folder(dir + "/data");
    std::string table = shared_dir() + "/data/latency/ofa_note10/224_lookup_table.yaml";
    cli::Result r = run(dir, "import", "latency import --format ofa " + table + " -o " + dir + "/note10.yaml");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("0 without counterpart"), std::string::npos) << r.err;

    Space space;
    HwErr err = {{0}, 0};
    ASSERT_EQ(space_load(&space, kSpace, &err), 0) << err.msg;
    Lut* lut = lut_load((dir + "/note10.yaml").c_str(), &err);
    ASSERT_NE(lut, nullptr) << err.msg;
    double lo = 0, hi = 0;
    latency_range(lut, &space, &lo, &hi);
    ASSERT_LT(lo, hi);
    double limit = lo + 0.3 * (hi - lo);
    char limit_text[32];
    std::snprintf(limit_text, sizeof limit_text, "%.4f", limit);
    std::printf("    Note10 latency of the space: %.3f .. %.3f ms, limit %s ms\n", lo, hi, limit_text);

    std::string cfg = tmp.write("cfg.yaml",
                                "data:\n  kind: imagefolder\n  root: " + dir + "/data\n  input_size: 224\n"
                                "  channels: 3\n  val_resize: 224\n  holdout: 4\n  workers: 0\n"
                                "space: " + std::string(kSpace) + "\n"
                                "train:\n  epochs: 1\n  batch: 4\n  threads: 2\n"
                                "search:\n  population: 3\n  parents: 2\n  iterations: 1\n  mutations: 1\n"
                                "  crossovers: 1\n  bn_images: 4\n  val_images: 4\n");
    r = run(dir, "train", "train -c " + cfg + " -o " + dir + "/train");
    ASSERT_EQ(r.code, 0) << r.err;
    r = run(dir, "search", "search -c " + cfg + " --supernet " + dir + "/train/supernet.ckpt --target " + dir +
                 "/note10.yaml --latency-ms " + limit_text + " -o " + dir + "/search");
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_TRUE(cli::exists(dir + "/search/best.yaml")) << r.out << r.err;

    // best.yaml, read back and priced on the table here and by the CLI.
    Arch best;
    ASSERT_EQ(arch_load(&best, (dir + "/search/best.yaml").c_str(), &space, &err), 0) << err.msg;
    double ms = 0;
    ASSERT_EQ(latency_predict(lut, &space, best.ops, &ms, &err), 0) << err.msg;
    EXPECT_LE(ms, limit);
    EXPECT_GE(ms, lo);
    r = run(dir, "predict", "latency predict --target " + dir + "/note10.yaml --arch " + dir + "/search/best.yaml --space " +
                 kSpace);
    ASSERT_EQ(r.code, 0) << r.err;
    double printed = -1;
    ASSERT_EQ(std::sscanf(r.out.c_str(), "%lf", &printed), 1) << r.out;
    EXPECT_NEAR(printed, ms, 1e-3 * ms) << r.out;
    lut_free(lut);
}
