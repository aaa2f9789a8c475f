// hwnas export against two consumers hwnas did not write: every operator of
// the pool, at stride 1 and 2, in models of tests/spaces/tiny.yaml that
// python3-onnx's checker accepts and whose logits in ONNX Runtime equal
// hwnas's eval-mode forward. BN running statistics and affine parameters are
// random (not the 0/1 of a fresh network), so the folding is exercised. The
// MBConv names outside the pool (e4, _se_hs, ...) the same way in
// tests/spaces/tiny-mb.yaml.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "kernels/ops.h"
#include "onnx_tools.h"
#include "supernet/arch.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_util.h"

namespace {

constexpr int kBatch = 8;
constexpr const char* kSpace = "tests/spaces/tiny.yaml";

std::string bin() {
    const char* b = std::getenv("HWNAS_BIN");
    return b ? b : "build/hwnas";
}

// Fills a parameter (or running-stat) range with uniform values in [lo, hi).
void fill(float* dst, size_t n, uint64_t seed, float lo, float hi) {
    std::vector<float> v = random_floats(n, seed, lo, hi);
    std::memcpy(dst, v.data(), n * sizeof(float));
}

// BN gamma in [0.5, 1.5), BN beta and biases in [-0.3, 0.3), running means in
// [-0.5, 0.5) and variances in [0.3, 2); the classifier scaled up so that
// logits are of order 1 and an absolute tolerance means something.
void randomize(Supernet* sn) {
    uint64_t seed = 100;
    for (int b = 0; b < sn->n_blocks; b++) {
        const Block* blk = &sn->blocks[b];
        float* params = sn->params + sn->param_offset[b];
        for (int i = 0; i < blk->param_count; i++) {
            const ParamDesc* p = &blk->params[i];
            std::string name = p->name;
            bool gamma = name.size() > 9 && name.compare(name.size() - 9, 9, "bn.weight") == 0;
            if (gamma) fill(params + p->offset, p->numel, seed++, 0.5f, 1.5f);
            else if (p->layout == LAYOUT_VECTOR) fill(params + p->offset, p->numel, seed++, -0.3f, 0.3f);
            else if (name.rfind("classifier.", 0) == 0) fill(params + p->offset, p->numel, seed++, -0.5f, 0.5f);
        }
        float* running = sn->running + sn->running_offset[b];
        size_t at = 0;
        for (int r = 0; r < blk->running_count; r++) {
            size_t c = (size_t)blk->running_channels[r];
            fill(running + at, c, seed++, -0.5f, 0.5f);
            fill(running + at + c, c, seed++, 0.3f, 2.0f);
            at += 2 * c;
        }
    }
}

// Architecture j: layer l takes pool operator (j + 8 l) mod 32, or the next
// one the layer accepts (skip is not a candidate where shapes change). Over
// j = 0..31 every operator appears in every layer it can map.
std::vector<int> arch_ops(const Space& s, int j) {
    std::vector<int> ops(s.n_layers);
    for (int l = 0; l < s.n_layers; l++) {
        int idx = -1;
        for (int k = 0; idx < 0 && k < OP_POOL_SIZE; k++)
            idx = space_op_index(&s, l, op_pool_names[(j + 8 * l + k) % OP_POOL_SIZE]);
        ops[l] = idx;
    }
    return ops;
}

int run_cmd(const std::string& cmd) {
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Case {
    std::string model, input, output;
    std::vector<float> want;
};

// Exports architecture `archs[j]` of the space at `space_path` (random BN
// statistics and affine parameters), runs each model in ONNX Runtime on the
// same one-channel images, and compares the logits with hwnas's eval forward.
void expect_onnx_parity(const char* space_path, const std::vector<std::vector<int>>& archs, const char* tag) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, space_path, &err), 0) << err.msg;
    OpContext ctx = {1, nullptr};
    Supernet* sn = supernet_create(&space, &ops_cpu, &ctx, kBatch, &err);
    ASSERT_NE(sn, nullptr) << err.msg;
    ASSERT_EQ(supernet_init_params(sn, 7, &err), 0) << err.msg;
    randomize(sn);
    // One channel, so the NHWC images are NCHW as they are.
    ASSERT_EQ(space.in_c, 1);
    std::vector<float> images = random_floats((size_t)kBatch * space.in_h * space.in_w, 5, -2.0f, 2.0f);
    std::string dir = test_temp_dir(tag);
    write_floats(dir + "/input.f32", images);
    std::vector<Case> cases;
    std::vector<std::string> models;
    std::vector<OrtJob> jobs;
    for (size_t j = 0; j < archs.size(); j++) {
        std::vector<int> ops = archs[j];
        Arch arch;
        arch_init(&arch, &space);
        for (int l = 0; l < space.n_layers; l++) arch.ops[l] = ops[l];
        std::memcpy(sn->images, images.data(), images.size() * sizeof(float));
        supernet_forward(sn, ops.data(), kBatch, MODE_EVAL, 0);
        std::string stem = dir + "/a" + std::to_string(j);
        Case c{stem + ".onnx", dir + "/input.f32", stem + ".logits",
               std::vector<float>(sn->logits, sn->logits + kBatch * space.classes)};
        ASSERT_EQ(arch_write(&arch, &space, (stem + ".yaml").c_str(), &err), 0) << err.msg;
        ASSERT_EQ(safetensors_write_subnet(sn, ops.data(), (stem + ".safetensors").c_str(), &err), 0) << err.msg;
        // Half the models at opset 13 (HardSwish as x * HardSigmoid) with a
        // fixed batch, half at the default opset with a symbolic batch.
        std::string opts = j % 2 ? " --opset 13 --batch " + std::to_string(kBatch) : "";
        std::string cmd = bin() + " export --space " + space_path + " --arch " + stem + ".yaml --weights " + stem +
                          ".safetensors -o " + c.model + opts + " 2>" + stem + ".err";
        ASSERT_EQ(run_cmd(cmd), 0) << cmd;
        models.push_back(c.model);
        jobs.push_back({c.model, c.input, std::to_string(kBatch) + ",1," + std::to_string(space.in_h) + "," +
                                              std::to_string(space.in_w), c.output});
        cases.push_back(c);
    }
    supernet_destroy(sn);
    std::string check = onnx_check(models);
    ASSERT_EQ(check, "") << check;
    std::string ort = ort_run(jobs);
    ASSERT_EQ(ort, "") << ort;
    float biggest = 0;
    for (const Case& c : cases) {
        std::vector<float> got = read_floats(c.output);
        ASSERT_EQ(got.size(), c.want.size()) << c.model;
        for (float v : c.want) biggest = std::max(biggest, std::fabs(v));
        // fp32 in both, different summation orders and BN folded into the
        // weights (hwnas normalizes after the conv): 1e-4 absolute.
        expect_close("logits ONNX Runtime vs hwnas, " + c.model, got.data(), c.want.data(), got.size(), 1e-4f, 0.0f);
    }
    EXPECT_GT(biggest, 0.5f) << "logits too small for an absolute tolerance to mean anything";
}

}  // namespace

TEST(OnnxExport, EveryOperatorMatchesOnnxRuntime) {
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, kSpace, &err), 0) << err.msg;
    std::vector<std::vector<int>> archs;
    std::vector<int> covered(OP_POOL_SIZE * space.n_layers, 0);
    for (int j = 0; j < OP_POOL_SIZE; j++) {
        std::vector<int> ops = arch_ops(space, j);
        for (int l = 0; l < space.n_layers; l++) {
            ASSERT_GE(ops[l], 0);
            int pool = 0;
            while (strcmp(op_pool_names[pool], space.layers[l].names[ops[l]])) pool++;
            covered[pool * space.n_layers + l] = 1;
        }
        archs.push_back(ops);
    }
    for (int p = 0; p < OP_POOL_SIZE; p++)
        for (int l = 0; l < space.n_layers; l++) {
            OpSpec spec;
            ASSERT_EQ(op_parse(op_pool_names[p], &spec), 0);
            const SpaceLayer& L = space.layers[l];
            if (op_valid(&spec, L.in_c, L.out_c, L.stride, nullptr)) {
                EXPECT_TRUE(covered[p * space.n_layers + l]) << op_pool_names[p] << " in layer " << l;
            }
        }
    expect_onnx_parity(kSpace, archs, "onnx_export");
}

// MBConv names outside the pool (e2/e4/e5/e7/e8, _se with _hs, e1 with SE)
// export through the same node switch: three architectures of
// tests/spaces/tiny-mb.yaml, each layer's j-th candidate in architecture j.
TEST(OnnxExport, ParametricMbConvMatchesOnnxRuntime) {
    const char* path = "tests/spaces/tiny-mb.yaml";
    HwErr err = {};
    Space space;
    ASSERT_EQ(space_load(&space, path, &err), 0) << err.msg;
    std::vector<std::vector<int>> archs(3, std::vector<int>(space.n_layers));
    for (int j = 0; j < 3; j++)
        for (int l = 0; l < space.n_layers; l++) {
            ASSERT_EQ(space.layers[l].n_ops, 3);
            archs[j][l] = j;
        }
    EXPECT_EQ(space_op_index(&space, 0, "mb_k5_e4_se_hs"), 0);
    expect_onnx_parity(path, archs, "onnx_export_mb");
}

// Bad input: one error line, exit 2, nothing written.
TEST(OnnxExport, BadInputIsOneErrorLine) {
    TempDir t("onnx_bad");
    std::string base = bin() + " export --space " + kSpace;
    std::string arch = t.write("a.yaml", "space: tiny\nops: [skip, sep_k3, skip, sep_k3]\n");
    std::string weights = t.write("w.safetensors", "not a safetensors file");
    struct Bad {
        std::string args, needle;
    } bad[] = {
        {" --arch " + arch + " --weights " + weights + " -o " + (t / "m.onnx"), "w.safetensors"},
        {" --arch " + (t / "missing.yaml") + " --weights " + weights + " -o " + (t / "m.onnx"), "missing.yaml"},
        {" --arch " + arch + " --weights " + weights + " -o " + (t / "m.onnx") + " --opset 12", "--opset"},
        {" --arch " + arch + " --weights " + weights + " -o " + (t / "m.onnx") + " --batch 0", "--batch"},
        {" -c tests/configs/smoke.yaml --arch " + arch + " --weights " + weights + " -o " + (t / "m.onnx"),
         "-c and --space"},
    };
    for (const Bad& b : bad) {
        std::string err = t / "err";
        int code = run_cmd(base + b.args + " 2>" + err);
        std::string text = read_text(err);
        EXPECT_EQ(code, 2) << b.args << "\n" << text;
        EXPECT_EQ(text.rfind("hwnas: error: ", 0), 0u) << text;
        EXPECT_NE(text.find(b.needle), std::string::npos) << text;
        EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
    }
    EXPECT_EQ(run_cmd("test -e " + (t / "m.onnx")), 1) << "a failed export wrote the model";
    EXPECT_EQ(run_cmd(bin() + " export --help >/dev/null"), 0);
    EXPECT_EQ(run_cmd(bin() + " export --arch " + arch + " 2>/dev/null"), 2);
}
