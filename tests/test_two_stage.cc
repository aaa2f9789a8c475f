// The two-stage plan (search/two_stage.h): the split, the pins of stage 1
// and stage 2's pins from stage 1's best; and the automatic latency limit.
#include <cmath>
#include <vector>

#include "search_fixture.h"

extern "C" {
#include "search/latency_limit.h"
#include "search/two_stage.h"
}

namespace {

// A latency per (layer, op) with no pattern a bug could share.
double scrambled_ms(int l, int o) { return 0.2 + 0.01 * ((o * 37 + l * 11) % 23); }

struct Tiny {
    Space s;
    Tiny() {
        HwErr err = {};
        EXPECT_EQ(space_load(&s, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
    }
};

// The fastest op of a layer by the table, found here by a plain scan.
int fastest_by_scan(const Space& s, int l, const std::function<double(int, int)>& ms) {
    int best = -1;
    for (int o = 0; o < s.layers[l].n_ops; o++) {
        double v = ms(l, o);
        if (v >= 0 && (best < 0 || v < ms(l, best))) best = o;
    }
    return best;
}

}  // namespace

TEST(TwoStage, DefaultSplitIsHalfAndLayersBeforeItArePinnedToTheirFastest) {
    Tiny t;
    ASSERT_EQ(t.s.n_layers, 4);
    Lut* lut = make_table(t.s, scrambled_ms);
    StagePlan plan;
    TwoStageOptions first = {0, 0};
    two_stage_plan(&t.s, lut, &first, &plan);
    EXPECT_EQ(plan.n_layers, 4);
    EXPECT_EQ(plan.split, 2);
    for (int l = 0; l < 4; l++) {
        int want = l < 2 ? fastest_by_scan(t.s, l, scrambled_ms) : -1;
        EXPECT_EQ(plan.stage1_search[l], want) << "layer " << l;
        EXPECT_EQ(plan.stage1_train[l], want) << "fill first: trained as searched, layer " << l;
    }
    // Splits outside 1..n-1 mean the default.
    for (int split : {-3, 0, 4, 9}) {
        TwoStageOptions o = {split, 0};
        two_stage_plan(&t.s, lut, &o, &plan);
        EXPECT_EQ(plan.split, 2) << split;
    }
    lut_free(lut);
}

TEST(TwoStage, ExplicitSplitAndUniformFill) {
    Tiny t;
    Lut* lut = make_table(t.s, scrambled_ms);
    StagePlan plan;
    TwoStageOptions uniform = {3, 1};
    two_stage_plan(&t.s, lut, &uniform, &plan);
    EXPECT_EQ(plan.split, 3);
    for (int l = 0; l < 4; l++) {
        int fastest = l < 3 ? fastest_by_scan(t.s, l, scrambled_ms) : -1;
        EXPECT_EQ(plan.stage1_search[l], fastest) << "layer " << l;
        EXPECT_EQ(plan.stage1_train[l], -1) << "fill uniform: every layer sampled while training, layer " << l;
    }
    lut_free(lut);
}

TEST(TwoStage, AnOperatorWithoutEntryIsNeverTheFastest) {
    Tiny t;
    // Layer 0's fastest op by the scrambled table loses its entry.
    int gone = fastest_by_scan(t.s, 0, scrambled_ms);
    auto ms = [&](int l, int o) { return l == 0 && o == gone ? -1.0 : scrambled_ms(l, o); };
    ASSERT_NE(t.s.layers[0].ops[gone].family, OPF_SKIP) << "a skip without entry costs 0 ms by design";
    Lut* lut = make_table(t.s, ms);
    StagePlan plan;
    TwoStageOptions first = {0, 0};
    two_stage_plan(&t.s, lut, &first, &plan);
    EXPECT_NE(plan.stage1_search[0], gone);
    EXPECT_EQ(plan.stage1_search[0], fastest_by_scan(t.s, 0, ms));
    lut_free(lut);
}

TEST(TwoStage, StageTwoFixesTheLastLayersToStageOnesBest) {
    Tiny t;
    Lut* lut = make_table(t.s, scrambled_ms);
    StagePlan plan;
    TwoStageOptions first = {1, 0};
    two_stage_plan(&t.s, lut, &first, &plan);
    int best[SPACE_MAX_LAYERS] = {plan.stage1_search[0], 3, 1, 2};
    int pins[SPACE_MAX_LAYERS];
    two_stage_stage2_pins(&plan, best, pins);
    EXPECT_EQ(pins[0], -1);
    EXPECT_EQ(pins[1], 3);
    EXPECT_EQ(pins[2], 1);
    EXPECT_EQ(pins[3], 2);
    lut_free(lut);
}

// The automatic limit (the 40th percentile of random architectures) lies
// strictly between the fastest and the slowest architecture of the space.
TEST(TwoStage, AutomaticLimitLiesInsideTheSpaceAndNeedsEveryEntry) {
    Tiny t;
    Lut* lut = make_table(t.s, scrambled_ms);
    HwErr err = {};
    double limit = 0, again = 0;
    ASSERT_EQ(latency_auto_limit(lut, &t.s, 7, &limit, &err), 0) << err.msg;
    ASSERT_EQ(latency_auto_limit(lut, &t.s, 7, &again, &err), 0) << err.msg;
    EXPECT_EQ(limit, again) << "deterministic for a seed";
    double lo = 0.2, hi = 0.2;
    for (int l = 0; l < 4; l++) {
        double mn = 1e9, mx = 0;
        for (int o = 0; o < t.s.layers[l].n_ops; o++) {
            double v = scrambled_ms(l, o);
            mn = std::fmin(mn, v), mx = std::fmax(mx, v);
        }
        lo += mn, hi += mx;
    }
    EXPECT_GT(limit, lo);
    EXPECT_LT(limit, hi);
    // A table without an entry the space needs is an error naming it.
    Lut* holes = make_table(t.s, [](int l, int o) { return l == 3 && o > 0 ? -1.0 : scrambled_ms(l, o); });
    EXPECT_EQ(latency_auto_limit(holes, &t.s, 7, &limit, &err), -1);
    EXPECT_NE(std::string(err.msg).find("no entry for"), std::string::npos) << err.msg;
    lut_free(holes);
    lut_free(lut);
}
