// Latency targets: keys, the hash index, load/write round trip, error paths
// (file and line), the analytic model, and importing the published tables in
// ../shared/data/latency (HWNAS_SHARED overrides ../shared).
#include <gtest/gtest.h>

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "search/latency.h"
#include "search/lut.h"
#include "search/lut_import.h"
#include "supernet/space.h"
#include "test_util.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

int files_in(const std::string& dir) {
    int n = 0;
    DIR* d = opendir(dir.c_str());
    if (!d) return -1;
    while (struct dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

std::string shared_dir() {
    const char* d = std::getenv("HWNAS_SHARED");
    return d ? d : "../shared";
}

std::string latency_file(const std::string& rel) {
    std::string p = shared_dir() + "/data/latency/" + rel;
    if (access(p.c_str(), R_OK) != 0)
        ADD_FAILURE() << p << " is not readable: set HWNAS_SHARED to the shared data directory";
    return p;
}

const char* kHeader = "device: test box\nunit: ms\nmethod: measured\nsource: unit test\nentries:\n";

// Loads text that must fail with code 2 and "FILE:LINE: " in front.
std::string expect_load_error(TempDir& tmp, const std::string& text, int line) {
    std::string f = tmp.write("bad" + std::to_string(tmp.files.size()) + ".yaml", text);
    HwErr err = {{0}, 0};
    Lut* lut = lut_load(f.c_str(), &err);
    EXPECT_EQ(lut, nullptr) << text;
    lut_free(lut);
    EXPECT_EQ(err.code, 2) << err.msg;
    std::string prefix = f + ":" + (line > 0 ? std::to_string(line) + ": " : " ");
    EXPECT_EQ(std::string(err.msg).rfind(prefix, 0), 0u) << "want " << prefix << "\n got " << err.msg;
    return err.msg;
}

}  // namespace

TEST(Lut, KeyBuildersAndParser) {
    char k[LUT_KEY_MAX];
    ASSERT_EQ(lut_block_key(k, sizeof k, "mb_k5_e6", 14, 14, 48, 7, 7, 96, 2), 0);
    EXPECT_STREQ(k, "mb_k5_e6-in:14x14x48-out:7x7x96-s:2");
    ASSERT_EQ(lut_stem_key(k, sizeof k, 28, 28, 1, 28, 28, 16), 0);
    EXPECT_STREQ(k, "stem-in:28x28x1-out:28x28x16");
    ASSERT_EQ(lut_head_key(k, sizeof k, 7, 7, 96, 10), 0);
    EXPECT_STREQ(k, "head-in:7x7x96-out:10");
    EXPECT_EQ(lut_block_key(k, sizeof k, "mb-k3", 1, 1, 1, 1, 1, 1, 1), -1);  // '-' in op
    EXPECT_EQ(lut_block_key(k, sizeof k, "Mb_k3", 1, 1, 1, 1, 1, 1, 1), -1);
    EXPECT_EQ(lut_block_key(k, sizeof k, "stem", 1, 1, 1, 1, 1, 1, 1), -1);
    EXPECT_EQ(lut_block_key(k, sizeof k, "", 1, 1, 1, 1, 1, 1, 1), -1);
    EXPECT_EQ(lut_block_key(k, sizeof k, "skip", 7, 7, 0, 7, 7, 8, 1), -1);
    EXPECT_EQ(lut_head_key(k, sizeof k, 7, 7, 96, 0), -1);
    EXPECT_EQ(lut_block_key(k, 10, "mb_k3_e3", 14, 14, 48, 7, 7, 96, 2), -1);  // does not fit

    LutKey p;
    ASSERT_EQ(lut_parse_key("shuffle_k7_se-in:28x14x24-out:14x7x48-s:2", &p), 0);
    EXPECT_EQ(p.kind, LUT_KEY_BLOCK);
    EXPECT_STREQ(p.op, "shuffle_k7_se");
    EXPECT_EQ(p.in_h, 28);
    EXPECT_EQ(p.in_w, 14);
    EXPECT_EQ(p.in_c, 24);
    EXPECT_EQ(p.out_h, 14);
    EXPECT_EQ(p.out_w, 7);
    EXPECT_EQ(p.out_c, 48);
    EXPECT_EQ(p.stride, 2);
    ASSERT_EQ(lut_parse_key("stem-in:224x224x3-out:112x112x16", &p), 0);
    EXPECT_EQ(p.kind, LUT_KEY_STEM);
    EXPECT_EQ(p.out_c, 16);
    ASSERT_EQ(lut_parse_key("head-in:7x7x320-out:1000", &p), 0);
    EXPECT_EQ(p.kind, LUT_KEY_HEAD);
    EXPECT_EQ(p.out_c, 1000);
    for (const char* bad : {"", "mb_k3_e3", "mb_k3_e3-in:14x14x48-out:7x7x96", "mb_k3_e3-in:014x14x48-out:7x7x96-s:2",
                            "mb_k3_e3-in:14x14x48-out:7x7x96-s:2 ", "mb_k3_e3-in:14x14-out:7x7x96-s:2",
                            "mb_k3_e3-in:+14x14x48-out:7x7x96-s:2", "stem-in:1x1x1-out:1x1x1-s:1",
                            "head-in:7x7x96-out:10x1", "head-in:7x7x96-out:0", "-in:1x1x1-out:1x1x1-s:1",
                            "mb_k3_e3-in:14x14x48-out:7x7x96-s:2-x:1", "MB-in:1x1x1-out:1x1x1-s:1"})
        EXPECT_EQ(lut_parse_key(bad, &p), -1) << bad;
}

TEST(Lut, AddFindLookup) {
    Lut* lut = lut_new();
    ASSERT_NE(lut, nullptr);
    HwErr err = {{0}, 0};
    ASSERT_EQ(lut_add(lut, "mb_k3_e3-in:8x8x16-out:8x8x16-s:1", 0.25, 0.01, 20, &err), 0) << err.msg;
    ASSERT_EQ(lut_add(lut, "head-in:8x8x16-out:10", 0.05, 0, 0, &err), 0) << err.msg;
    double ms = 0;
    ASSERT_EQ(lut_lookup(lut, "mb_k3_e3-in:8x8x16-out:8x8x16-s:1", &ms, &err), 0);
    EXPECT_EQ(ms, 0.25);
    const LutEntry* e = lut_find(lut, "head-in:8x8x16-out:10");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mean, 0.05);
    EXPECT_EQ(lut_find(lut, "head-in:8x8x16-out:11"), nullptr);
    // A missing key names the key and the file (here: no file yet).
    EXPECT_EQ(lut_lookup(lut, "sep_k5-in:8x8x16-out:4x4x32-s:2", &ms, &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_TRUE(contains(err.msg, "no entry for 'sep_k5-in:8x8x16-out:4x4x32-s:2'")) << err.msg;
    EXPECT_EQ(lut_add(lut, "head-in:8x8x16-out:10", 0.1, 0, 0, &err), -1);
    EXPECT_TRUE(contains(err.msg, "duplicate latency key 'head-in:8x8x16-out:10'")) << err.msg;
    EXPECT_EQ(lut_add(lut, "bad key", 0.1, 0, 0, &err), -1);
    EXPECT_TRUE(contains(err.msg, "does not follow the key grammar")) << err.msg;
    EXPECT_EQ(lut_add(lut, "skip-in:8x8x16-out:8x8x16-s:1", -0.1, 0, 0, &err), -1);
    EXPECT_EQ(lut_add(lut, "skip-in:8x8x16-out:8x8x16-s:1", NAN, 0, 0, &err), -1);
    EXPECT_EQ(lut_add(lut, "skip-in:8x8x16-out:8x8x16-s:1", 0.1, INFINITY, 0, &err), -1);
    EXPECT_EQ(lut->count, 2);
    lut_free(lut);
}

TEST(Lut, HashIndexHandles100kEntries) {
    Lut* lut = lut_new();
    HwErr err = {{0}, 0};
    char k[LUT_KEY_MAX];
    const int n = 100000;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; i++) {
        ASSERT_EQ(lut_block_key(k, sizeof k, "mb_k3_e6", 1 + i % 300, 1 + i / 300, 8, 7, 7, 16, 1), 0);
        ASSERT_EQ(lut_add(lut, k, i * 1e-3, 0, 1, &err), 0) << err.msg;
    }
    for (int i = 0; i < n; i++) {
        lut_block_key(k, sizeof k, "mb_k3_e6", 1 + i % 300, 1 + i / 300, 8, 7, 7, 16, 1);
        const LutEntry* e = lut_find(lut, k);
        ASSERT_NE(e, nullptr) << k;
        ASSERT_EQ(e->mean, i * 1e-3);
    }
    lut_block_key(k, sizeof k, "mb_k3_e6", 1, 1, 8, 7, 7, 16, 2);
    EXPECT_EQ(lut_find(lut, k), nullptr);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(s, 5.0);  // hashed: well under a second; a linear scan would take minutes
    std::printf("100k adds + finds: %.3f s\n", s);
    lut_free(lut);
}

TEST(Lut, WriteThenLoadRoundTrips) {
    TempDir tmp("lut");
    Lut* a = lut_new();
    snprintf(a->device, sizeof a->device, "Intel Xeon: 2 threads, \"quoted\"");
    snprintf(a->source, sizeof a->source, "hwnas latency profile");
    snprintf(a->date, sizeof a->date, "2024-05-01");
    snprintf(a->hwnas_version, sizeof a->hwnas_version, "0.1");
    snprintf(a->notes, sizeof a->notes, "line one\nline two");
    a->threads = 2;
    a->batch = 1;
    a->timing = LUT_TIMING_Q20_ROUNDS;
    a->pinned = 1;
    HwErr err = {{0}, 0};
    char k[LUT_KEY_MAX];
    for (int i = 0; i < 2000; i++) {
        lut_block_key(k, sizeof k, i % 2 ? "sep_k5" : "mb_k7_e6_hs", 3 + i, 3 + i, 16, 2 + i, 2 + i, 24, 2);
        ASSERT_EQ(lut_add(a, k, 1.0 / (i + 3), std::sqrt((double)i) * 1e-4, i, &err), 0) << err.msg;
    }
    ASSERT_EQ(lut_add(a, "stem-in:28x28x1-out:28x28x16", 0.0, 0.0, 0, &err), 0);
    std::string f = tmp.file("target.yaml");
    ASSERT_EQ(lut_write(a, f.c_str(), &err), 0) << err.msg;
    Lut* b = lut_load(f.c_str(), &err);
    ASSERT_NE(b, nullptr) << err.msg;
    EXPECT_STREQ(b->path, f.c_str());
    EXPECT_STREQ(b->device, a->device);
    EXPECT_EQ(b->method, LUT_MEASURED);
    EXPECT_STREQ(b->source, a->source);
    EXPECT_STREQ(b->date, a->date);
    EXPECT_STREQ(b->hwnas_version, a->hwnas_version);
    EXPECT_STREQ(b->notes, a->notes);
    EXPECT_EQ(b->threads, 2);
    EXPECT_EQ(b->batch, 1);
    EXPECT_EQ(b->timing, LUT_TIMING_Q20_ROUNDS);
    EXPECT_EQ(b->pinned, 1);
    ASSERT_EQ(b->count, a->count);
    for (int i = 0; i < a->count; i++) {  // same order, bit-exact values
        EXPECT_STREQ(b->entries[i].key, a->entries[i].key);
        EXPECT_EQ(b->entries[i].mean, a->entries[i].mean);
        EXPECT_EQ(b->entries[i].std, a->entries[i].std);
        EXPECT_EQ(b->entries[i].n, a->entries[i].n);
    }
    // The contract's entry form, plain keys.
    std::ifstream in(f);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_TRUE(contains(ss.str(), "\n  mb_k7_e6_hs-in:3x3x16-out:2x2x24-s:2: {mean: 0.3333333333333333, std: 0, n: 0}\n"))
        << ss.str().substr(0, 600);
    EXPECT_EQ(files_in(tmp.path), 1);  // no temporary file left behind
    lut_free(a);
    lut_free(b);
    // Lookup errors name the file.
    Lut* c = lut_load(f.c_str(), &err);
    double ms;
    EXPECT_EQ(lut_lookup(c, "skip-in:1x1x1-out:1x1x1-s:1", &ms, &err), -1);
    EXPECT_TRUE(contains(err.msg, f + ": no entry for 'skip-in:1x1x1-out:1x1x1-s:1'")) << err.msg;
    lut_free(c);
}

// How a table was timed: each value read back; a table from before the
// fields (or imported) still loads, saying nothing; an unstated field is not
// written back.
TEST(Lut, TimingFieldsOptional) {
    TempDir tmp("lut");
    HwErr err = {{0}, 0};
    std::string old = tmp.write("old.yaml", std::string(kHeader) + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 0.5}\n");
    Lut* a = lut_load(old.c_str(), &err);
    ASSERT_NE(a, nullptr) << err.msg;
    EXPECT_EQ(a->timing, LUT_TIMING_UNSTATED);
    EXPECT_EQ(a->pinned, -1);
    EXPECT_EQ(a->threads, 0);
    std::string again = tmp.file("again.yaml");
    ASSERT_EQ(lut_write(a, again.c_str(), &err), 0) << err.msg;
    std::ifstream in(again);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_FALSE(contains(ss.str(), "timing:")) << ss.str();
    EXPECT_FALSE(contains(ss.str(), "pinned:")) << ss.str();
    lut_free(a);
    const struct {
        const char* lines;
        LutTiming timing;
        int pinned;
    } cases[] = {{"timing: median\npinned: false\n", LUT_TIMING_MEDIAN, 0},
                 {"timing: q20-rounds\npinned: true\n", LUT_TIMING_Q20_ROUNDS, 1},
                 {"timing: q20-rounds\n", LUT_TIMING_Q20_ROUNDS, -1}};
    for (const auto& c : cases) {
        std::string f = tmp.write("t.yaml", std::string("device: d\nunit: ms\nmethod: measured\nsource: s\nthreads: 2\n") +
                                                c.lines + "entries: {}\n");
        Lut* b = lut_load(f.c_str(), &err);
        ASSERT_NE(b, nullptr) << err.msg;
        EXPECT_EQ(b->timing, c.timing) << c.lines;
        EXPECT_EQ(b->pinned, c.pinned) << c.lines;
        EXPECT_EQ(b->threads, 2);
        EXPECT_STREQ(lut_timing_name(b->timing), c.timing == LUT_TIMING_MEDIAN ? "median" : "q20-rounds");
        lut_free(b);
    }
}

TEST(Lut, LoadErrorsNameFileAndLine) {
    TempDir tmp("lut");
    std::string h = kHeader;  // entries start on line 6
    struct Case {
        std::string text;
        int line;
        const char* want;
    } cases[] = {
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: -0.5}\n", 6, "mean: found '-0.5', expected a finite number in [0,"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: fast}\n", 6, "found 'fast'"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: .nan}\n", 6, "found '.nan'"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1e400}\n", 6, "found '1e400'"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1, std: -1}\n", 6, "std: found '-1'"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1, n: 2.5}\n", 6, "n: found '2.5'"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1:\n    std: 0.1\n", 7, "missing mean"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: 0.5\n", 6, "expected a mapping {mean: ms, std: ms, n: count}"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: [0.5]\n", 6, "found a sequence"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1, var: 2}\n", 6, "unknown key 'var'"},
        {h + "  a: {mean: 1}\n  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1}\n", 6, "found key 'a', expected OP-in:"},
        {h + "  skip-in:8x8x8-out:8x8x8-s:1: {mean: 1}\n  skip-in:8x8x8-out:8x8x8-s:1: {mean: 2}\n", 7,
         "duplicate key 'skip-in:8x8x8-out:8x8x8-s:1' (first at line 6)"},
        {"device: d\nunit: ms\nmethod: guessed\nsource: s\nentries: {}\n", 3,
         "method: found 'guessed', expected measured, imported or analytic"},
        {"device: d\nunit: s\nmethod: measured\nsource: s\nentries: {}\n", 2, "unit: found 's', expected ms"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\n", 1, "missing key 'entries'"},
        {"unit: ms\nmethod: measured\nsource: s\nentries: {}\n", 1, "missing key 'device'"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\nentries: {}\ncolour: red\n", 6, "unknown key 'colour'"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\npeak_gflops: 5\nentries: {}\n", 5,
         "peak_gflops: found in a measured target, expected it only with method: analytic"},
        {"device: d\nunit: ms\nmethod: analytic\nsource: s\nbandwidth_gbs: 5\n", 1, "missing key 'peak_gflops'"},
        {"device: d\nunit: ms\nmethod: analytic\nsource: s\npeak_gflops: 0\nbandwidth_gbs: 5\n", 5, "peak_gflops: found '0'"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\nthreads: -2\nentries: {}\n", 5, "threads: found '-2'"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\nthreads: 1025\nentries: {}\n", 5, "threads: found '1025'"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\ntiming: fastest\nentries: {}\n", 5,
         "timing: found 'fastest', expected median or q20-rounds"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\ntiming: [median]\nentries: {}\n", 5, "timing"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\ntiming: " + std::string(100, 'q') + "\nentries: {}\n", 5,
         "timing"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\npinned: maybe\nentries: {}\n", 5, "pinned"},
        {"device: d\nunit: ms\nmethod: measured\nsource: s\nentries: [1, 2]\n", 5, "entries: found a sequence"},
        {"- 1\n", 1, "expected a latency target"},
    };
    for (const Case& c : cases) {
        std::string m = expect_load_error(tmp, c.text, c.line);
        EXPECT_TRUE(contains(m, c.want)) << "text:\n" << c.text << "message: " << m;
    }
    HwErr err = {{0}, 0};
    std::string missing = tmp.path + "/missing.yaml";
    EXPECT_EQ(lut_load(missing.c_str(), &err), nullptr);
    EXPECT_TRUE(contains(err.msg, missing + ": cannot open")) << err.msg;
}

TEST(Lut, AnalyticRoofline) {
    TempDir tmp("lut");
    std::string f = tmp.write("a.yaml",
                              "device: roofline box\nunit: ms\nmethod: analytic\nsource: datasheet\n"
                              "peak_gflops: 100\nbandwidth_gbs: 10\noverhead_ms: 0.02\n");
    HwErr err = {{0}, 0};
    Lut* lut = lut_load(f.c_str(), &err);
    ASSERT_NE(lut, nullptr) << err.msg;
    EXPECT_EQ(lut->method, LUT_ANALYTIC);
    EXPECT_EQ(lut->count, 0);
    // Compute bound: 1 GFLOP at 100 GFLOP/s = 10 ms (1 MB at 10 GB/s = 0.1 ms).
    EXPECT_NEAR(lut_analytic_ms(lut, 1e9, 1e6), 10.0 + 0.02, 1e-12);
    // Memory bound: 100 MB at 10 GB/s = 10 ms, 1 MFLOP = 0.01 ms.
    EXPECT_NEAR(lut_analytic_ms(lut, 1e6, 1e8), 10.0 + 0.02, 1e-12);
    EXPECT_NEAR(lut_analytic_ms(lut, 0, 0), 0.02, 1e-15);
    EXPECT_NEAR(lut_analytic_ms(lut, 2e8, 3e7), 3.0 + 0.02, 1e-12);
    // Entries may sit beside the model; the file round-trips.
    ASSERT_EQ(lut_add(lut, "stem-in:28x28x1-out:28x28x16", 0.5, 0, 3, &err), 0);
    std::string g = tmp.file("b.yaml");
    ASSERT_EQ(lut_write(lut, g.c_str(), &err), 0) << err.msg;
    Lut* back = lut_load(g.c_str(), &err);
    ASSERT_NE(back, nullptr) << err.msg;
    EXPECT_EQ(back->peak_gflops, 100.0);
    EXPECT_EQ(back->bandwidth_gbs, 10.0);
    EXPECT_EQ(back->overhead_ms, 0.02);
    EXPECT_EQ(back->count, 1);
    lut_free(back);
    lut_free(lut);
    Lut* measured = lut_new();
    EXPECT_LT(lut_analytic_ms(measured, 1e9, 1e6), 0.0);  // not an analytic target
    lut_free(measured);
}

// ---------------------------------------------------------------- imports

namespace {

// The source table read the simple way: "key:" lines at column 0, then
// "  mean: X" / "  var: X" / "  std: X" lines. Independent of the YAML layer.
struct SrcStat {
    double mean = 0, var = 0;
};
std::map<std::string, SrcStat> read_table_by_lines(const std::string& path) {
    std::map<std::string, SrcStat> t;
    std::ifstream in(path);
    std::string line, key;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        if (line[0] != ' ') {
            key = line.substr(0, line.size() - 1);
            continue;
        }
        size_t colon = line.find(':');
        std::string field = line.substr(line.find_first_not_of(' '), colon - line.find_first_not_of(' '));
        double v = std::stod(line.substr(colon + 1));
        if (field == "mean") t[key].mean = v;
        if (field == "var") t[key].var = v;
        if (field == "std") t[key].var = v * v;
    }
    return t;
}

struct Stage {
    int width, depth, stride;
};
const Stage kProxylessStages[] = {{24, 4, 2}, {40, 4, 2}, {80, 4, 2}, {96, 4, 1}, {192, 4, 2}, {320, 1, 1}};

// Whole-network latency from the raw table, in the source's own key grammar.
double proxyless_total_from_source(const std::map<std::string, SrcStat>& t, int e, int k) {
    double sum = t.at("Conv-input:224x224x3-output:112x112x32").mean +
                 t.at("expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0").mean;
    int h = 112, c = 16;
    char key[256];
    for (const Stage& st : kProxylessStages)
        for (int i = 0; i < st.depth; i++) {
            int s = i == 0 ? st.stride : 1, ho = h / s, skip = s == 1 && c == st.width;
            snprintf(key, sizeof key,
                     "expanded_conv-input:%dx%dx%d-output:%dx%dx%d-expand:%d-kernel:%d-stride:%d-idskip:%d", h, h,
                     c, ho, ho, st.width, e, k, s, skip);
            sum += t.at(key).mean;
            h = ho, c = st.width;
        }
    return sum + t.at("Conv_1-input:7x7x320-output:7x7x1280").mean + t.at("Logits-input:7x7x1280-output:1000").mean;
}

// The same network through our keys and lut_lookup.
double proxyless_total_from_target(const Lut* lut, int e, int k) {
    HwErr err = {{0}, 0};
    char key[LUT_KEY_MAX], op[LUT_OP_MAX];
    double total = 0, ms = 0;
    lut_stem_key(key, sizeof key, 224, 224, 3, 112, 112, 16);
    EXPECT_EQ(lut_lookup(lut, key, &ms, &err), 0) << err.msg;
    total += ms;
    snprintf(op, sizeof op, "mb_k%d_e%d", k, e);
    int h = 112, c = 16;
    for (const Stage& st : kProxylessStages)
        for (int i = 0; i < st.depth; i++) {
            int s = i == 0 ? st.stride : 1, ho = h / s;
            lut_block_key(key, sizeof key, op, h, h, c, ho, ho, st.width, s);
            EXPECT_EQ(lut_lookup(lut, key, &ms, &err), 0) << err.msg;
            total += ms;
            h = ho, c = st.width;
        }
    lut_head_key(key, sizeof key, 7, 7, 320, 1000);
    EXPECT_EQ(lut_lookup(lut, key, &ms, &err), 0) << err.msg;
    return total + ms;
}

bool report_has(const LutImportReport& r, const std::string& key, const char* reason_part) {
    for (int i = 0; i < r.unmatched_count; i++)
        if (key == r.unmatched[i].key && contains(r.unmatched[i].reason, reason_part)) return true;
    return false;
}

}  // namespace

TEST(LutImport, ProxylessTotalsMatchThePublishedTable) {
    std::string path = latency_file("proxylessnas_mobile/mobile_trim.yaml");
    Lut* lut = nullptr;
    LutImportReport rep;
    HwErr err = {{0}, 0};
    ASSERT_EQ(lut_import("proxyless", path.c_str(), &lut, &rep, &err), 0) << err.msg;
    EXPECT_EQ(lut->method, LUT_IMPORTED);
    EXPECT_STREQ(lut->source, path.c_str());
    EXPECT_STREQ(lut->device, "mobile phone CPU (ProxylessNAS mobile_trim.yaml)");
    auto table = read_table_by_lines(path);
    ASSERT_EQ(table.size(), 72u);
    for (int pass = 0; pass < 2; pass++) {
        int e = pass ? 6 : 3, k = pass ? 7 : 3;
        double want = proxyless_total_from_source(table, e, k);
        double got = proxyless_total_from_target(lut, e, k);
        std::printf("proxyless all e%d k%d: target %.6f ms, source %.6f ms, |diff| %.2e\n", e, k, got, want,
                    std::fabs(got - want));
        EXPECT_NEAR(got, want, 0.05);
        EXPECT_NEAR(got, pass ? 191.0 : 76.0, 0.1);  // SOURCE.md
    }
    // Merged entries: stem = Conv + first block, head = Conv_1 + Logits, and
    // their spread is the root of the summed variances.
    const LutEntry* stem = lut_find(lut, "stem-in:224x224x3-out:112x112x16");
    ASSERT_NE(stem, nullptr);
    const SrcStat& conv = table["Conv-input:224x224x3-output:112x112x32"];
    const SrcStat& first = table["expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:3-stride:1-idskip:0"];
    EXPECT_NEAR(stem->mean, conv.mean + first.mean, 1e-12);
    EXPECT_NEAR(stem->std, std::sqrt(conv.var + first.var), 1e-12);
    EXPECT_EQ(stem->n, 318);  // the smaller of the two counts
    const LutEntry* block = lut_find(lut, "mb_k5_e6-in:112x112x16-out:56x56x24-s:2");
    ASSERT_NE(block, nullptr);
    EXPECT_EQ(block->mean, table["expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:5-stride:2-idskip:0"].mean);
    // Accounting: every source key is imported, merged or reported.
    EXPECT_EQ(rep.source_entries, 72);
    EXPECT_EQ(rep.imported, lut->count);
    EXPECT_EQ(rep.imported, 68);
    EXPECT_EQ(rep.merged, 4);
    EXPECT_EQ(rep.unmatched_count, 2);
    EXPECT_EQ(rep.source_entries, rep.imported - 2 + rep.merged + rep.unmatched_count);
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:5-stride:1-idskip:0",
                           "expand ratio 1"));
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:112x112x32-output:112x112x16-expand:1-kernel:7-stride:1-idskip:0",
                           "expand ratio 1"));
    for (int i = 0; i < rep.unmatched_count; i++) EXPECT_GT(rep.unmatched[i].line, 0);
    // The imported target survives a write and a load.
    TempDir tmp("lut");
    std::string f = tmp.file("proxyless.yaml");
    ASSERT_EQ(lut_write(lut, f.c_str(), &err), 0) << err.msg;
    Lut* back = lut_load(f.c_str(), &err);
    ASSERT_NE(back, nullptr) << err.msg;
    EXPECT_EQ(back->method, LUT_IMPORTED);
    EXPECT_EQ(proxyless_total_from_target(back, 6, 7), proxyless_total_from_target(lut, 6, 7));
    lut_free(back);
    lut_free(lut);
    lut_import_report_free(&rep);
}

TEST(LutImport, OfaNote10MapsMidChannelsAndSuffixes) {
    std::string path = latency_file("ofa_note10/224_lookup_table.yaml");
    Lut* lut = nullptr;
    LutImportReport rep;
    HwErr err = {{0}, 0};
    ASSERT_EQ(lut_import("ofa", path.c_str(), &lut, &rep, &err), 0) << err.msg;
    auto table = read_table_by_lines(path);
    EXPECT_TRUE(contains(lut->device, "Note10")) << lut->device;
    // expand:72 on 24 input channels is ratio 3; se:0 hs:0 -> plain.
    const LutEntry* e = lut_find(lut, "mb_k3_e3-in:112x112x24-out:56x56x32-s:2");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mean, table["expanded_conv-input:112x112x24-output:56x56x32-expand:72-kernel:3-stride:2-idskip:0-se:0-hs:0"].mean);
    EXPECT_NEAR(e->std, 0.023800878638814846, 1e-15);
    EXPECT_EQ(e->n, 56);
    // Stage 2 (32 -> 48) has se; stage 3 (48 -> 96) has hs.
    EXPECT_NE(lut_find(lut, "mb_k5_e6_se-in:56x56x32-out:28x28x48-s:2"), nullptr);
    EXPECT_NE(lut_find(lut, "mb_k7_e3_se-in:28x28x48-out:28x28x48-s:1"), nullptr);
    EXPECT_NE(lut_find(lut, "mb_k3_e6_hs-in:28x28x48-out:14x14x96-s:2"), nullptr);
    EXPECT_EQ(lut_find(lut, "mb_k3_e6_se-in:28x28x48-out:14x14x96-s:2"), nullptr);
    // Stem: Conv + the e24 k3 identity block; head: Conv_1 + pool + Conv_2 + Logits.
    const LutEntry* stem = lut_find(lut, "stem-in:224x224x3-out:112x112x24");
    ASSERT_NE(stem, nullptr);
    EXPECT_NEAR(stem->mean, table["Conv-input:224x224x3-output:112x112x24"].mean +
                                table["expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0"].mean,
                1e-12);
    const LutEntry* head = lut_find(lut, "head-in:7x7x192-out:1000");
    ASSERT_NE(head, nullptr);
    double head_sum = table["Conv_1-input:7x7x192-output:7x7x1152"].mean + table["AvgPool2D-input:7x7x1152-output:1x1x1152"].mean +
                      table["Conv_2-input:1x1x1152-output:1x1x1536"].mean + table["Logits-input:1x1x1536-output:1000"].mean;
    EXPECT_NEAR(head->mean, head_sum, 1e-12);
    // 96 source entries: 90 blocks + stem (2) + head (4), every one with a
    // counterpart now that mb takes e4 and _se_hs together.
    EXPECT_EQ(rep.source_entries, 96);
    EXPECT_EQ(rep.imported, 92);
    EXPECT_EQ(rep.merged, 6);
    EXPECT_EQ(rep.unmatched_count, 0);
    const char* e4 = "expanded_conv-input:112x112x24-output:56x56x32-expand:96-kernel:3-stride:2-idskip:0-se:0-hs:0";
    e = lut_find(lut, "mb_k3_e4-in:112x112x24-out:56x56x32-s:2");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mean, table[e4].mean);
    const char* sehs = "expanded_conv-input:14x14x136-output:14x14x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:1";
    e = lut_find(lut, "mb_k3_e3_se_hs-in:14x14x136-out:14x14x136-s:1");
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mean, table[sehs].mean);
    lut_free(lut);
    lut_import_report_free(&rep);
}

TEST(LutImport, DynamicOfaJetsonJson) {
    for (const char* dir : {"jetson", "jetson_GPU"}) {
        std::string path = latency_file(std::string("dynamicofa_jetson/") + dir + "/160_lookup_table.json");
        Lut* lut = nullptr;
        LutImportReport rep;
        HwErr err = {{0}, 0};
        ASSERT_EQ(lut_import("ofa", path.c_str(), &lut, &rep, &err), 0) << err.msg;
        EXPECT_TRUE(contains(lut->device, std::string("Jetson ") + (strcmp(dir, "jetson") ? "GPU" : "CPU")))
            << lut->device;
        EXPECT_EQ(rep.source_entries, 96);
        EXPECT_EQ(rep.imported, 92);
        EXPECT_EQ(rep.unmatched_count, 0);
        // 160 input: stem output is 80x80x24, the head reads 5x5x192.
        EXPECT_NE(lut_find(lut, "stem-in:160x160x3-out:80x80x24"), nullptr);
        EXPECT_NE(lut_find(lut, "head-in:5x5x192-out:1000"), nullptr);
        lut_free(lut);
        lut_import_report_free(&rep);
    }
}

namespace {

// The published table as plain text, YAML (`key:` then indented fields) or
// JSON (`"key": {` then `"field": value,`), without the importer's reader:
// key -> {mean, std, count}.
struct RawStat {
    double mean = -1, std = -1;
    long count = -1;
};
std::map<std::string, RawStat> read_raw_table(const std::string& path) {
    std::map<std::string, RawStat> t;
    std::ifstream in(path);
    std::string line, key;
    while (std::getline(in, line)) {
        std::string s;
        for (char c : line)
            if (c != '"' && c != ' ' && c != ',') s += c;
        if (s.find("-input:") != std::string::npos) {  // a key line
            key = s.substr(0, s.rfind(':'));
            continue;
        }
        size_t colon = s.find(':');
        if (key.empty() || colon == std::string::npos || colon + 1 >= s.size()) continue;
        std::string field = s.substr(0, colon), value = s.substr(colon + 1);
        if (field == "mean") t[key].mean = std::stod(value);
        if (field == "std") t[key].std = std::stod(value);
        if (field == "count") t[key].count = std::stol(value);
    }
    return t;
}

}  // namespace

// Every entry of the OFA Note10 and Dynamic-OFA Jetson CPU/GPU tables has a
// counterpart, and the 224 tables give a latency for every layer and operator
// of configs/spaces/ofa-mbv3.yaml, the space they were measured on.
TEST(LutImport, OfaTablesCoverTheOfaMbv3Space) {
    Space space;
    HwErr err = {{0}, 0};
    ASSERT_EQ(space_load(&space, "configs/spaces/ofa-mbv3.yaml", &err), 0) << err.msg;
    for (const char* rel : {"ofa_note10/224_lookup_table.yaml", "dynamicofa_jetson/jetson/224_lookup_table.json",
                            "dynamicofa_jetson/jetson_GPU/224_lookup_table.json"}) {
        SCOPED_TRACE(rel);
        std::string path = latency_file(rel);
        Lut* lut = nullptr;
        LutImportReport rep;
        ASSERT_EQ(lut_import("ofa", path.c_str(), &lut, &rep, &err), 0) << err.msg;
        EXPECT_EQ(rep.source_entries, 96);
        for (int i = 0; i < rep.unmatched_count; i++)
            ADD_FAILURE() << "no counterpart: " << rep.unmatched[i].key << " (" << rep.unmatched[i].reason << ")";
        EXPECT_EQ(rep.unmatched_count, 0);
        EXPECT_EQ(rep.imported, 92);  // 90 blocks, stem, head
        char key[LUT_KEY_MAX];
        ASSERT_EQ(latency_stem_key(&space, key, sizeof key), 0);
        EXPECT_NE(lut_find(lut, key), nullptr) << key;
        ASSERT_EQ(latency_head_key(&space, key, sizeof key), 0);
        EXPECT_NE(lut_find(lut, key), nullptr) << key;
        int blocks = 0;
        for (int l = 0; l < space.n_layers; l++)
            for (int o = 0; o < space.layers[l].n_ops; o++) {
                double ms = -1;
                EXPECT_EQ(latency_of_layer_op(lut, &space, l, o, &ms, &err), 0)
                    << "layer " << l << " " << space.layers[l].names[o] << ": " << err.msg;
                EXPECT_GE(ms, 0);
                blocks += space.layers[l].ops[o].family != OPF_SKIP;
            }
        EXPECT_EQ(blocks, 20 * 9);
        // Spot checks against the source text: an e4 block with se and hs, an
        // e6 with hs only, an e4 plain transition block (values exactly).
        auto raw = read_raw_table(path);
        ASSERT_EQ(raw.size(), 96u);
        const char* pairs[][2] = {
            {"expanded_conv-input:14x14x96-output:14x14x136-expand:384-kernel:5-stride:1-idskip:0-se:1-hs:1",
             "mb_k5_e4_se_hs-in:14x14x96-out:14x14x136-s:1"},
            {"expanded_conv-input:7x7x192-output:7x7x192-expand:768-kernel:7-stride:1-idskip:1-se:1-hs:1",
             "mb_k7_e4_se_hs-in:7x7x192-out:7x7x192-s:1"},
            {"expanded_conv-input:28x28x48-output:14x14x96-expand:288-kernel:3-stride:2-idskip:0-se:0-hs:1",
             "mb_k3_e6_hs-in:28x28x48-out:14x14x96-s:2"},
            {"expanded_conv-input:56x56x32-output:56x56x32-expand:128-kernel:7-stride:1-idskip:1-se:0-hs:0",
             "mb_k7_e4-in:56x56x32-out:56x56x32-s:1"},
        };
        for (auto& p : pairs) {
            ASSERT_EQ(raw.count(p[0]), 1u) << p[0];
            const LutEntry* e = lut_find(lut, p[1]);
            ASSERT_NE(e, nullptr) << p[1];
            EXPECT_EQ(e->mean, raw[p[0]].mean) << p[1];
            EXPECT_NEAR(e->std, raw[p[0]].std, 1e-12 * raw[p[0]].std) << p[1];
            EXPECT_EQ(e->n, raw[p[0]].count) << p[1];
        }
        lut_free(lut);
        lut_import_report_free(&rep);
    }
}

// Every resolution of the three tables (5 Note10, 17 + 17 Jetson) imports
// whole: the mapping does not depend on the 224 shapes.
TEST(LutImport, EveryOfaTableResolutionHasNoUnmatchedEntry) {
    int tables = 0;
    for (const char* dir : {"ofa_note10", "dynamicofa_jetson/jetson", "dynamicofa_jetson/jetson_GPU"}) {
        std::string d = shared_dir() + "/data/latency/" + dir;
        DIR* dp = opendir(d.c_str());
        ASSERT_NE(dp, nullptr) << d;
        while (struct dirent* de = readdir(dp)) {
            std::string f = de->d_name;
            if (f.find("_lookup_table.") == std::string::npos) continue;
            Lut* lut = nullptr;
            LutImportReport rep;
            HwErr err = {{0}, 0};
            ASSERT_EQ(lut_import("ofa", (d + "/" + f).c_str(), &lut, &rep, &err), 0) << err.msg;
            EXPECT_EQ(rep.source_entries, 96) << d << "/" << f;
            EXPECT_EQ(rep.unmatched_count, 0) << d << "/" << f;
            EXPECT_EQ(rep.imported, 92) << d << "/" << f;
            tables++;
            lut_free(lut);
            lut_import_report_free(&rep);
        }
        closedir(dp);
    }
    EXPECT_EQ(tables, 5 + 17 + 17);
}

// Blocks the mb grammar cannot name are reported, with the reason, not dropped.
TEST(LutImport, BlocksOutsideTheMbGrammarAreReported) {
    TempDir tmp("lut");
    std::string f = tmp.write("t.yaml",
                              "expanded_conv-input:14x14x16-output:14x14x16-expand:144-kernel:3-stride:1-idskip:1-se:0-hs:0:\n"
                              "  {count: 3, mean: 1.0, std: 0.1}\n"
                              "expanded_conv-input:14x14x16-output:14x14x16-expand:64-kernel:4-stride:1-idskip:1-se:0-hs:0:\n"
                              "  {count: 3, mean: 1.0, std: 0.1}\n"
                              "expanded_conv-input:14x14x16-output:14x14x16-expand:128-kernel:7-stride:1-idskip:1-se:1-hs:1:\n"
                              "  {count: 3, mean: 2.5, std: 0.1}\n");
    Lut* lut = nullptr;
    LutImportReport rep;
    HwErr err = {{0}, 0};
    ASSERT_EQ(lut_import("ofa", f.c_str(), &lut, &rep, &err), 0) << err.msg;
    EXPECT_EQ(rep.unmatched_count, 2);
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:14x14x16-output:14x14x16-expand:144-kernel:3-stride:1-idskip:1-se:0-hs:0",
                           "expand ratio above LIMIT_MB_EXPAND"));  // ratio 9
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:14x14x16-output:14x14x16-expand:64-kernel:4-stride:1-idskip:1-se:0-hs:0",
                           "kernel other than 3, 5 or 7"));
    ASSERT_EQ(rep.imported, 1);
    const LutEntry* e = lut_find(lut, "mb_k7_e8_se_hs-in:14x14x16-out:14x14x16-s:1");  // ratio 8, the limit
    ASSERT_NE(e, nullptr);
    EXPECT_EQ(e->mean, 2.5);
    lut_free(lut);
    lut_import_report_free(&rep);
}

TEST(LutImport, Errors) {
    Lut* lut = nullptr;
    LutImportReport rep;
    HwErr err = {{0}, 0};
    EXPECT_EQ(lut_import("tflite", "x.yaml", &lut, &rep, &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_TRUE(contains(err.msg, "found 'tflite', expected proxyless or ofa")) << err.msg;
    EXPECT_EQ(lut_import("proxyless", "/nonexistent/mobile_trim.yaml", &lut, &rep, &err), -1);
    EXPECT_TRUE(contains(err.msg, "/nonexistent/mobile_trim.yaml: cannot open")) << err.msg;
    TempDir tmp("lut");
    std::string f = tmp.write("t.yaml",
                              "Conv-input:224x224x3-output:112x112x32:\n  count: 3\n  mean: 1.0\n"
                              "expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:3-stride:2-idskip:0:\n"
                              "  count: 3\n  var: 0.1\n");
    EXPECT_EQ(lut_import("proxyless", f.c_str(), &lut, &rep, &err), -1);
    EXPECT_TRUE(contains(err.msg, f + ":5: ")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "missing mean")) << err.msg;
    EXPECT_EQ(lut, nullptr);
    f = tmp.write("u.yaml",
                  "Conv-input:224x224x3-output:112x112x32: {count: 3, mean: -1.0}\n");
    EXPECT_EQ(lut_import("proxyless", f.c_str(), &lut, &rep, &err), -1);
    EXPECT_TRUE(contains(err.msg, f + ":1: mean: found '-1.0'")) << err.msg;
    // Unknown layers and odd keys are reported, not errors, not dropped.
    f = tmp.write("v.yaml",
                  "Conv-input:32x32x3-output:16x16x8: {count: 3, mean: 1.0, var: 0.01}\n"
                  "SomethingNew-input:16x16x8-output:16x16x8: {count: 3, mean: 2.0, var: 0.01}\n"
                  "expanded_conv-input:16x16x8-output:16x16x8-expand:3-kernel:3-stride:1-idskip:0: {count: 1, mean: 3.0}\n"
                  "expanded_conv-input:16x16x8-output:8x8x16-expand:3-kernel:9-stride:2-idskip:0: {count: 1, mean: 3.0}\n"
                  "Logits-input:16x16x8-output:10: {count: 3, mean: 0.5, var: 0.01}\n");
    ASSERT_EQ(lut_import("proxyless", f.c_str(), &lut, &rep, &err), 0) << err.msg;
    EXPECT_NE(lut_find(lut, "stem-in:32x32x3-out:16x16x8"), nullptr);  // Conv alone
    EXPECT_EQ(lut->count, 1);
    EXPECT_EQ(rep.unmatched_count, 4);
    EXPECT_TRUE(report_has(rep, "SomethingNew-input:16x16x8-output:16x16x8", "key not understood"));
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:16x16x8-output:16x16x8-expand:3-kernel:3-stride:1-idskip:0",
                           "idskip disagrees"));
    EXPECT_TRUE(report_has(rep, "expanded_conv-input:16x16x8-output:8x8x16-expand:3-kernel:9-stride:2-idskip:0",
                           "kernel other than"));
    EXPECT_TRUE(report_has(rep, "Logits-input:16x16x8-output:10", "head part"));
    for (int i = 0; i < rep.unmatched_count; i++) EXPECT_EQ(rep.unmatched[i].line, 2 + i);  // file order
    lut_free(lut);
    lut_import_report_free(&rep);
}

// The calibration line: least squares, else through the origin when the
// slope is outside what a table may hold (the loader's range) or the offset
// is negative and not allowed; unusable timings are an error, never a table
// the loader refuses.
TEST(Lut, CalibrationFitFallsBackToTheOriginWhenTheLineIsUnusable) {
    auto fit = [](std::vector<std::pair<double, double>> xy, int negative_ok, double* scale, double* offset,
                  HwErr* err) {
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (auto& p : xy) sx += p.first, sy += p.second, sxx += p.first * p.first, sxy += p.first * p.second;
        return lut_fit_calibration(sx, sy, sxx, sxy, (double)xy.size(), negative_ok, scale, offset, err);
    };
    double scale = 0, offset = 0;
    HwErr err = {};
    ASSERT_EQ(fit({{1, 2.5}, {2, 4.5}, {3, 6.5}}, 0, &scale, &offset, &err), 0) << err.msg;
    EXPECT_NEAR(scale, 2.0, 1e-12);
    EXPECT_NEAR(offset, 0.5, 1e-12);
    // A negative offset: kept when allowed, else the line through the origin (8.5 / 5).
    ASSERT_EQ(fit({{1, 1.5}, {2, 3.5}}, 1, &scale, &offset, &err), 0) << err.msg;
    EXPECT_NEAR(scale, 2.0, 1e-12);
    EXPECT_NEAR(offset, -0.5, 1e-12);
    ASSERT_EQ(fit({{1, 1.5}, {2, 3.5}}, 0, &scale, &offset, &err), 0) << err.msg;
    EXPECT_NEAR(scale, 1.7, 1e-12);
    EXPECT_EQ(offset, 0.0);
    // Two networks of nearly the same sum: the slope (1e-4) is noise; through the origin instead.
    ASSERT_EQ(fit({{1.0, 1.0}, {1.001, 1.0000001}}, 1, &scale, &offset, &err), 0) << err.msg;
    EXPECT_NEAR(scale, 2.0010001001 / 2.002001, 1e-12);
    EXPECT_EQ(offset, 0.0);
    EXPECT_GE(scale, LUT_SCALE_MIN);
    // Networks timed at 1e-7 of their sums: no usable line at all.
    EXPECT_LT(fit({{1, 1e-7}, {2, 2e-7}}, 1, &scale, &offset, &err), 0);
    EXPECT_NE(std::string(err.msg).find("timings are unusable"), std::string::npos) << err.msg;
}
