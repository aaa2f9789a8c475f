// Latency tables for any device and in ONNX Runtime: `hwnas latency
// export-blocks` (models that python3-onnx's checker accepts, a manifest with
// every block of the space), `latency import --format csv` (a round trip
// through ONNX Runtime's own timings, and one clear error per bad CSV), and
// `latency profile --runtime onnxruntime` (a loadable table that states its
// runtime and threads). No timing is asserted: the values are whatever the
// machine gave, only their path into the table is checked.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cli_run.h"
#include "common/error.h"
#include "onnx_tools.h"
#include "search/latency.h"
#include "search/lut.h"
#include "supernet/space.h"
#include "test_util.h"

namespace {

constexpr const char* kSpace = "tests/spaces/tiny.yaml";

using Row = std::vector<std::string>;

struct Csv {
    Row header;
    std::vector<Row> rows;
    int col(const std::string& name) const {
        auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? -1 : (int)(it - header.begin());
    }
};

Row split(const std::string& line) {
    Row out;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) out.push_back(f);
    return out;
}

Csv read_csv(const std::string& path) {
    Csv c;
    std::stringstream ss(cli::slurp(path));
    std::string line;
    if (std::getline(ss, line)) c.header = split(line);
    while (std::getline(ss, line))
        if (!line.empty()) c.rows.push_back(split(line));
    return c;
}

// (layer, op) -> key for every block of the space, as the table keys them.
std::map<std::pair<std::string, std::string>, std::string> space_blocks() {
    Space s;
    HwErr err = {};
    std::map<std::pair<std::string, std::string>, std::string> want;
    EXPECT_EQ(space_load(&s, kSpace, &err), 0) << err.msg;
    char key[LUT_KEY_MAX];
    latency_stem_key(&s, key, sizeof key);
    want[{"stem", "stem"}] = key;
    for (int l = 0; l < s.n_layers; l++)
        for (int o = 0; o < s.layers[l].n_ops; o++) {
            latency_layer_key(&s, l, o, key, sizeof key);
            want[{std::to_string(l), s.layers[l].names[o]}] = key;
        }
    latency_head_key(&s, key, sizeof key);
    want[{"head", "head"}] = key;
    return want;
}

std::string export_blocks(const TempDir& dir) {
    std::string out = dir / "blocks";
    cli::Result r = cli::run(std::string("latency export-blocks --space ") + kSpace + " -o " + out, dir / "export");
    EXPECT_EQ(r.code, 0) << r.err;
    return out;
}

TEST(LatencyOrt, ExportBlocksWritesCheckedModelsAndEveryBlockInTheManifest) {
    TempDir dir("ort_blocks");
    std::string out = export_blocks(dir);
    Csv m = read_csv(out + "/manifest.csv");
    ASSERT_EQ(m.header, (Row{"layer", "op", "key", "file", "input"}));
    auto want = space_blocks();
    std::map<std::pair<std::string, std::string>, std::string> got;
    std::set<std::string> files;
    for (const Row& r : m.rows) {
        ASSERT_EQ(r.size(), 5u);
        EXPECT_TRUE(got.emplace(std::make_pair(r[0], r[1]), r[2]).second) << "twice: " << r[0] << " " << r[1];
        EXPECT_TRUE(cli::exists(out + "/" + r[3])) << r[3];
        EXPECT_EQ(r[4].rfind("1x", 0), 0u) << "batch 1 input: " << r[4];
        files.insert(out + "/" + r[3]);
    }
    EXPECT_EQ(got, want);
    EXPECT_EQ(onnx_check(std::vector<std::string>(files.begin(), files.end())), "");
}

// node tools/ort_time.js on the manifest, few runs: the CSV a user's runtime would give.
std::string ort_timings(const TempDir& dir, const std::string& blocks) {
    std::string csv = dir / "timings.csv";
    std::string cmd = "node tools/ort_time.js " + blocks + "/manifest.csv " + csv +
                      " --threads 1 --warmup 0 --runs 2 >" + dir.path + "/ort.log 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0) << cli::slurp(dir / "ort.log");
    return csv;
}

TEST(LatencyOrt, CsvFromOnnxRuntimeImportsToATableOfTheSameValues) {
    TempDir dir("ort_import");
    std::string csv = ort_timings(dir, export_blocks(dir));
    std::string target = dir / "t.yaml";
    cli::Result r = cli::run(std::string("latency import --format csv --space ") + kSpace + " --csv " + csv +
                             " -o " + target + " --device-name 'this CPU' --runtime-name ort --threads 1",
                             dir / "import");
    ASSERT_EQ(r.code, 0) << r.err;
    HwErr err = {};
    Lut* lut = lut_load(target.c_str(), &err);
    ASSERT_NE(lut, nullptr) << err.msg;
    Csv c = read_csv(csv);
    int key = c.col("key"), ms = c.col("ms"), sd = c.col("std"), n = c.col("n");
    ASSERT_TRUE(key >= 0 && ms >= 0 && sd >= 0 && n >= 0);
    std::set<std::string> keys;
    for (const Row& row : c.rows) {
        const LutEntry* e = lut_find(lut, row[key].c_str());
        ASSERT_NE(e, nullptr) << row[key];
        EXPECT_DOUBLE_EQ(e->mean, std::strtod(row[ms].c_str(), nullptr)) << row[key];
        EXPECT_DOUBLE_EQ(e->std, std::strtod(row[sd].c_str(), nullptr)) << row[key];
        EXPECT_EQ(e->n, std::atoi(row[n].c_str())) << row[key];
        keys.insert(row[key]);
    }
    EXPECT_EQ(lut->count, (int)keys.size());
    EXPECT_STREQ(lut->device, "this CPU");
    EXPECT_STREQ(lut->runtime, "ort");
    EXPECT_EQ(lut->threads, 1);
    EXPECT_EQ(lut->method, LUT_IMPORTED);
    lut_free(lut);
}

// The manifest with a column ms of 0.5 everywhere: a valid CSV to break.
std::vector<std::string> valid_lines(const TempDir& dir, const std::string& blocks) {
    std::vector<std::string> lines;
    std::stringstream ss(cli::slurp(blocks + "/manifest.csv"));
    std::string line;
    while (std::getline(ss, line)) lines.push_back(line + (lines.empty() ? ",ms" : ",0.5"));
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l + "\n";
    return s;
}

TEST(LatencyOrt, BadCsvGivesOneErrorLineNamingFileAndLine) {
    TempDir dir("ort_badcsv");
    std::vector<std::string> ok = valid_lines(dir, export_blocks(dir));
    ASSERT_GT(ok.size(), 4u);
    struct Case {
        std::string name, text, want;
    };
    auto with = [&](size_t i, const std::string& line) {
        auto v = ok;
        v[i] = line;
        return join(v);
    };
    std::string row2 = ok[2];
    std::string row2_no_ms = row2.substr(0, row2.rfind(','));
    auto dropped_last = ok;
    dropped_last.pop_back();
    auto doubled = ok;
    doubled.push_back(row2);
    std::vector<Case> cases = {
        {"no_ms", with(0, "layer,op,key,file,input,time"), ":1: header lacks ms"},
        {"not_number", with(2, row2_no_ms + ",fast"), ":3: ms 'fast': expected a number"},
        {"negative", with(2, row2_no_ms + ",-1"), ":3: ms '-1': expected a number"},
        {"fields", with(2, row2_no_ms), ":3: found 5 fields, expected 6"},
        {"op", with(2, "0,mb_k9_e9,x,f.onnx,1x1x1x1,1"), ":3: layer 0 has no operator 'mb_k9_e9'"},
        {"layer", with(2, "7,mb_k3_e3,x,f.onnx,1x1x1x1,1"), ":3: layer '7': expected stem, head or 0..3"},
        {"key", with(2, "0,mb_k3_e3,stem-in:1x1x1-out:1x1x1,f.onnx,1x1x1x1,1"), ":3: key 'stem-in:1x1x1-out:1x1x1', expected"},
        {"duplicate", join(doubled), ": second row for layer 0"},
        {"missing", join(dropped_last), "no row for layer head op head"},
        {"quote", with(2, "\"0\",mb_k3_e3,k,f,i,1"), ":3: found a NUL byte or a quote"},
        {"long", with(2, std::string(9000, 'x')), ":3: line longer than 8192 bytes"},
        {"empty", "", ":1: empty file"},
    };
    for (const Case& c : cases) {
        std::string csv = dir.write(c.name + ".csv", c.text);
        cli::Result r = cli::run(std::string("latency import --format csv --space ") + kSpace + " --csv " + csv +
                                 " -o " + dir / (c.name + ".yaml"), dir / c.name);
        EXPECT_EQ(r.code, 2) << c.name << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << c.name << ": " << r.err;
        EXPECT_NE(r.err.find(csv), std::string::npos) << c.name << ": " << r.err;
        EXPECT_NE(r.err.find(c.want), std::string::npos) << c.name << ": " << r.err;
        EXPECT_FALSE(cli::exists(dir / (c.name + ".yaml"))) << c.name;
    }
    // The unbroken file imports.
    cli::Result r = cli::run(std::string("latency import --format csv --space ") + kSpace + " --csv " +
                             dir.write("ok.csv", join(ok)) + " -o " + dir / "ok.yaml", dir / "ok");
    EXPECT_EQ(r.code, 0) << r.err;
}

// Layers whose blocks have the same key share one model file, and their rows
// become one entry: the mean of the rows (here 1 and 3 ms -> 2 ms).
TEST(LatencyOrt, EqualLayersShareAModelAndAverageTheirRows) {
    TempDir dir("ort_equal");
    std::string space = dir.write("twin.yaml",
                                  "name: twin\ninput: [6, 6, 1]\nclasses: 3\nstem: {out: 4, kernel: 3, stride: 1}\n"
                                  "layers:\n  - {out: 4, stride: 1, ops: [skip, sep_k3]}\n"
                                  "  - {out: 4, stride: 1, ops: [skip, sep_k3]}\nhead: {features: 0}\n");
    cli::Result r = cli::run("latency export-blocks --space " + space + " -o " + dir / "b", dir / "export");
    ASSERT_EQ(r.code, 0) << r.err;
    Csv m = read_csv(dir / "b/manifest.csv");
    ASSERT_EQ(m.rows.size(), 6u);
    EXPECT_EQ(m.rows[1][2], m.rows[3][2]);  // layer 0 and layer 1 skip: same key ...
    EXPECT_EQ(m.rows[1][3], m.rows[3][3]);  // ... same file
    std::string csv = "layer,op,ms\nstem,stem,0.5\n0,skip,1\n0,sep_k3,4\n1,skip,3\n1,sep_k3,6\nhead,head,0.25\n";
    r = cli::run("latency import --format csv --space " + space + " --csv " + dir.write("t.csv", csv) + " -o " +
                 dir / "t.yaml", dir / "import");
    ASSERT_EQ(r.code, 0) << r.err;
    HwErr err = {};
    Lut* lut = lut_load((dir / "t.yaml").c_str(), &err);
    ASSERT_NE(lut, nullptr) << err.msg;
    EXPECT_EQ(lut->count, 4);
    const LutEntry* skip = lut_find(lut, m.rows[1][2].c_str());
    const LutEntry* sep = lut_find(lut, m.rows[2][2].c_str());
    ASSERT_TRUE(skip && sep);
    EXPECT_DOUBLE_EQ(skip->mean, 2.0);
    EXPECT_DOUBLE_EQ(sep->mean, 5.0);
    lut_free(lut);
}

// LIMIT_LATENCY_CSV_BYTES: a file past it is refused before it is read (a
// sparse file: nothing is written to disk).
TEST(LatencyOrt, CsvOver64MiBIsRefusedBeforeReading) {
    TempDir dir("ort_bigcsv");
    std::string csv = dir.write("big.csv", "layer,op,ms\n");
    ASSERT_EQ(truncate(csv.c_str(), (64L << 20) + 1), 0);
    cli::Result r = cli::run(std::string("latency import --format csv --space ") + kSpace + " --csv " + csv + " -o " +
                             dir / "t.yaml", dir / "big");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(csv + ": 67108865 bytes, expected at most 67108864"), std::string::npos) << r.err;
}

TEST(LatencyOrt, ProfileInOnnxRuntimeWritesATableStatingRuntimeAndThreads) {
    TempDir dir("ort_profile");
    std::string target = dir / "t.yaml";
    cli::Result r = cli::run(std::string("latency profile --runtime onnxruntime --space ") + kSpace + " -o " + target +
                             " --threads 1 --warmup 0 --runs 1 --calibration 2", dir / "profile");
    ASSERT_EQ(r.code, 0) << r.err;
    HwErr err = {};
    Lut* lut = lut_load(target.c_str(), &err);
    ASSERT_NE(lut, nullptr) << err.msg;
    EXPECT_NE(std::string(lut->runtime).find("onnxruntime-node"), std::string::npos) << lut->runtime;
    EXPECT_EQ(lut->threads, 1);
    EXPECT_EQ(lut->batch, 1);
    EXPECT_EQ(lut->method, LUT_MEASURED);
    EXPECT_GT(lut->scale, 0.0);
    EXPECT_GE(lut->offset_ms, 0.0);
    std::set<std::string> keys;
    for (const auto& kv : space_blocks()) keys.insert(kv.second);
    EXPECT_EQ(lut->count, (int)keys.size());
    for (const std::string& k : keys) EXPECT_NE(lut_find(lut, k.c_str()), nullptr) << k;
    // The CSV it imported is kept beside the table.
    EXPECT_TRUE(cli::exists(target + ".ort/timings.csv"));
    lut_free(lut);
    // It is a target like any other: the hardware-specific space of a run is built under it.
    cli::Result sp = cli::run(std::string("space -c tests/configs/smoke.yaml --set space=") + kSpace + " --target " +
                              target + " -o " + dir / "space.yaml", dir / "space");
    EXPECT_EQ(sp.code, 0) << sp.err;
    Space gen;
    EXPECT_EQ(space_load(&gen, (dir / "space.yaml").c_str(), &err), 0) << err.msg;
}

// The ONNX Runtime check reports as `latency check` does: with the machine's
// speed from the table's reference networks (the first 3 calibration
// subnets; a table calibrated on fewer has none, and the check says nothing
// of speed), the raw figures beside, the same CSV columns.
TEST(LatencyOrt, CheckTimesTheTablesReferenceBesideEveryGroup) {
    TempDir dir("ort_speed");
    const std::string quick = std::string(" --space ") + kSpace + " --threads 1 --warmup 0 --runs 1";
    for (int calibration : {2, 3}) {
        std::string target = dir / ("t" + std::to_string(calibration) + ".yaml"), csv = target + ".csv";
        cli::Result r = cli::run("latency profile --runtime onnxruntime -o " + target + quick + " --calibration " +
                                     std::to_string(calibration), dir / "profile");
        ASSERT_EQ(r.code, 0) << r.err;
        HwErr err = {};
        Lut* lut = lut_load(target.c_str(), &err);
        ASSERT_NE(lut, nullptr) << err.msg;
        EXPECT_EQ(lut->reference_ops[0] != 0, calibration == 3) << lut->reference_ops;
        lut_free(lut);
        r = cli::run("latency check --runtime onnxruntime --samples 12 --target " + target + " --csv " + csv + quick,
                     dir / "check");
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(r.out.rfind("samples 12 within10 ", 0), 0u) << r.out;
        EXPECT_EQ(r.out.find(" speed ") != std::string::npos, calibration == 3) << r.out;
        EXPECT_EQ(r.out.find(" raw_within10 ") != std::string::npos, calibration == 3) << r.out;
        Csv c = read_csv(csv);
        ASSERT_EQ(c.rows.size(), 12u);
        int pred = c.col("predicted_ms"), raw = c.col("raw_predicted_ms"), speed = c.col("speed");
        ASSERT_TRUE(pred >= 0 && raw >= 0 && speed >= 0 && c.col("measured_ms") >= 0);
        for (const Row& row : c.rows) {
            double f = std::strtod(row[speed].c_str(), nullptr);
            if (calibration == 2) {
                EXPECT_EQ(row[speed], "1.0000");
            }
            EXPECT_NEAR(std::strtod(row[pred].c_str(), nullptr), f * std::strtod(row[raw].c_str(), nullptr),
                        2e-5 + 1e-4 * std::strtod(row[pred].c_str(), nullptr));
        }
    }
}

TEST(LatencyOrt, NewCommandsHaveHelpAndRefuseBadInputsWithOneLine) {
    TempDir dir("ort_cli");
    for (const char* sub : {"export-blocks", "import --format csv", "profile --runtime onnxruntime",
                            "check --runtime onnxruntime"}) {
        cli::Result h = cli::run(std::string("latency ") + sub + " --help", dir / "help");
        EXPECT_EQ(h.code, 0) << sub;
        EXPECT_NE(h.out.find("export-blocks --space"), std::string::npos) << sub;
    }
    struct Bad {
        std::string args, want;
    };
    std::vector<Bad> bads = {
        {"profile --runtime tflite --space tests/spaces/tiny.yaml -o x.yaml", "--runtime 'tflite'"},
        {"profile --runtime onnxruntime --space tests/spaces/tiny.yaml -o x.yaml --threads 0", "--threads"},
        {"export-blocks --space " + dir / "none.yaml" + " -o " + dir / "b", "none.yaml"},
        {"import --format csv --space tests/spaces/tiny.yaml --csv " + dir / "none.csv" + " -o " + dir / "t.yaml",
         "none.csv"},
        {"check --runtime onnxruntime --space tests/spaces/tiny.yaml --target " + dir / "none.yaml", "none.yaml"},
    };
    for (const Bad& b : bads) {
        cli::Result r = cli::run("latency " + b.args, dir / "bad");
        EXPECT_EQ(r.code, 2) << b.args << ": " << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << b.args << ": " << r.err;
        EXPECT_NE(r.err.find(b.want), std::string::npos) << b.args << ": " << r.err;
    }
}

}  // namespace
