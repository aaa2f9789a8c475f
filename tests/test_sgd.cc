// SGD (momentum, Nesterov, weight decay) against torch.optim.SGD over several
// steps, with one parameter group excluded from weight decay and tensors that
// get no gradient in some steps (torch skips them: grad is None).
#include <cstring>
#include <map>

#include "kernels/ops.h"
#include "test_util.h"

static const char* kTensors[] = {"a", "b", "c", "d"};
static const bool kDecayed[] = {true, false, true, false};
static const char* kConfigs[] = {"momentum", "nesterov", "plain"};

struct Tensor {
    std::vector<float> param, buf;
};

static bool bitwise(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

TEST(Sgd, MatchesTorchOverSteps) {
    OpContext ctx = {2, nullptr};
    for (const char* config : kConfigs) {
        std::string p = std::string(config) + "/";
        auto cfgv = ref_floats("sgd", p + "config", 3);
        auto nesterov = ref_ints("sgd", p + "nesterov", 1);
        auto has_grad = ref_ints("sgd", p + "has_grad");
        ASSERT_FALSE(cfgv.empty() || nesterov.empty() || has_grad.empty());
        SgdConfig cfg = {cfgv[0], cfgv[1], cfgv[2], nesterov[0]};
        bool momentum = cfg.momentum != 0.0f;
        int steps = (int)has_grad.size() / 4;
        std::map<std::string, Tensor> t;
        for (const char* k : kTensors) {
            t[k].param = ref_floats("sgd", p + "init/" + k);
            ASSERT_FALSE(t[k].param.empty());
            t[k].buf.assign(t[k].param.size(), 0.0f);  // zero: the first step then sets buf = d
        }
        for (int step = 0; step < steps; step++) {
            std::string s = p + "step" + std::to_string(step) + "/";
            std::map<std::string, Tensor> before = t;
            for (int i = 0; i < 4; i++) {
                const char* k = kTensors[i];
                if (!has_grad[step * 4 + i]) continue;  // torch: grad None, skipped
                Tensor& x = t[k];
                auto grad = ref_floats("sgd", s + "grad/" + k, x.param.size());
                ASSERT_FALSE(grad.empty());
                ops_cpu.sgd_update(&ctx, x.param.data(), momentum ? x.buf.data() : nullptr,
                                   grad.data(), x.param.size(), &cfg, kDecayed[i]);
            }
            for (int i = 0; i < 4; i++) {
                const char* k = kTensors[i];
                bool moved = !bitwise(t[k].param, before[k].param);
                if (has_grad[step * 4 + i]) {
                    EXPECT_TRUE(moved) << s << k << " did not move";
                } else {
                    // No gradient this step: weights and momentum bit-identical.
                    EXPECT_FALSE(moved) << s << k << " weights changed without a gradient";
                    EXPECT_TRUE(bitwise(t[k].buf, before[k].buf))
                        << s << k << " momentum changed without a gradient";
                    // ...and torch's own reference skipped it too.
                    if (step > 0) {
                        std::string prev = p + "step" + std::to_string(step - 1) + "/param/";
                        EXPECT_TRUE(bitwise(ref_floats("sgd", s + "param/" + k),
                                            ref_floats("sgd", prev + k)))
                            << s << k << " torch moved a tensor whose grad was None";
                    }
                }
            }
            for (int i = 0; i < 4; i++) {
                const char* k = kTensors[i];
                Tensor& x = t[k];
                // A few float roundings per step, compounding over 5 steps.
                expect_close(s + "param/" + k, x.param,
                             ref_floats("sgd", s + "param/" + k, x.param.size()), 1e-7f, 1e-6f);
                if (momentum && ref_has("sgd", s + "buf/" + k))
                    expect_close(s + "buf/" + k, x.buf,
                                 ref_floats("sgd", s + "buf/" + k, x.buf.size()), 1e-7f, 1e-6f);
                else  // torch has no buffer yet (never had a grad) or keeps none (momentum 0)
                    for (float v : x.buf) ASSERT_EQ(v, 0.0f) << s << k;
            }
        }
    }
}

// The skip itself, across calls: a tensor that is not updated for two steps
// keeps its bits while the others move, and resumes from its old momentum.
TEST(Sgd, SkippedTensorStaysBitIdentical) {
    OpContext ctx = {1, nullptr};
    SgdConfig cfg = {0.05f, 0.9f, 1e-4f, 1};
    auto w = random_floats(29, 1), other = random_floats(29, 2);
    std::vector<float> wbuf(29, 0.0f), obuf(29, 0.0f);
    auto g = random_floats(29, 3);
    ops_cpu.sgd_update(&ctx, w.data(), wbuf.data(), g.data(), w.size(), &cfg, 1);
    std::vector<float> w_saved(w), wbuf_saved(wbuf);
    for (int step = 0; step < 2; step++)
        ops_cpu.sgd_update(&ctx, other.data(), obuf.data(), g.data(), other.size(), &cfg, 1);
    EXPECT_TRUE(bitwise(w, w_saved) && bitwise(wbuf, wbuf_saved));
    // Resuming: buf = 0.9 * old buf + d, from the saved momentum (computed
    // here in double; the op rounds in float).
    std::vector<float> want_buf(w.size()), want_w(w.size());
    for (size_t i = 0; i < w.size(); i++) {
        double d = g[i] + (double)cfg.weight_decay * w_saved[i];
        double buf = (double)cfg.momentum * wbuf_saved[i] + d;
        want_buf[i] = (float)buf;
        want_w[i] = (float)(w_saved[i] - (double)cfg.lr * (d + (double)cfg.momentum * buf));
    }
    ops_cpu.sgd_update(&ctx, w.data(), wbuf.data(), g.data(), w.size(), &cfg, 1);
    expect_close("resumed momentum", wbuf, want_buf, 1e-7f, 1e-6f);
    expect_close("resumed weights", w, want_w, 1e-7f, 1e-6f);
}

// Threaded path (n >= 32768) is elementwise, so it equals one thread bitwise.
TEST(Sgd, ThreadedEqualsSerial) {
    SgdConfig cfg = {0.1f, 0.9f, 5e-4f, 0};
    const size_t n = 50001;
    auto p1 = random_floats(n, 4), g = random_floats(n, 5), b1 = random_floats(n, 6);
    std::vector<float> p2(p1), b2(b1);
    OpContext one = {1, nullptr}, two = {2, nullptr};
    ops_cpu.sgd_update(&one, p1.data(), b1.data(), g.data(), n, &cfg, 1);
    ops_cpu.sgd_update(&two, p2.data(), b2.data(), g.data(), n, &cfg, 1);
    EXPECT_TRUE(bitwise(p1, p2) && bitwise(b1, b2));
}
