// Operator names: the parametric MBConv grammar (kernel, expansion, _se, _hs),
// that every name accepted before it keeps its meaning, and that hostile
// names are refused.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "common/limits.h"
#include "supernet/operator.h"

namespace {

bool same_spec(const OpSpec& a, const OpSpec& b) {
    return a.family == b.family && a.kernel == b.kernel && a.expand == b.expand && a.se == b.se &&
           a.hswish == b.hswish;
}

// Parses `name`, expects `want`, and expects op_name to spell it back.
void expect_parses_to(const std::string& name, const OpSpec& want) {
    OpSpec got;
    std::memset(&got, 0x5a, sizeof got);
    ASSERT_EQ(op_parse(name.c_str(), &got), 0) << name;
    EXPECT_TRUE(same_spec(got, want)) << name << ": family " << got.family << " k" << got.kernel << " e"
                                      << got.expand << " se" << got.se << " hs" << got.hswish;
    char back[OP_NAME_MAX];
    op_name(&got, back, sizeof back);
    EXPECT_EQ(name, back);
}

}  // namespace

// Before the grammar became parametric op_parse accepted the 32 pool names
// and mb_k{3,5,7}_e{1..6} with at most one of _se/_hs; each still means the
// same operator (spec written out here, not derived from the parser).
TEST(Operator, EveryNameAcceptedBeforeKeepsItsMeaning) {
    int names = 0;
    for (int k : {3, 5, 7})
        for (int e = 1; e <= 6; e++) {
            std::string base = "mb_k" + std::to_string(k) + "_e" + std::to_string(e);
            expect_parses_to(base, {OPF_MBCONV, k, e, 0, 0});
            expect_parses_to(base + "_se", {OPF_MBCONV, k, e, 1, 0});
            expect_parses_to(base + "_hs", {OPF_MBCONV, k, e, 0, 1});
            names += 3;
        }
    expect_parses_to("fused_k3_e3", {OPF_FUSED, 3, 3, 0, 0});
    expect_parses_to("fused_k3_e6", {OPF_FUSED, 3, 6, 0, 0});
    for (int k : {3, 5, 7}) {
        expect_parses_to("sep_k" + std::to_string(k), {OPF_SEP, k, 1, 0, 0});
        expect_parses_to("shuffle_k" + std::to_string(k), {OPF_SHUFFLE, k, 1, 0, 0});
        expect_parses_to("shuffle_k" + std::to_string(k) + "_se", {OPF_SHUFFLE, k, 1, 1, 0});
    }
    expect_parses_to("shuffle_x", {OPF_SHUFFLE_X, 3, 1, 0, 0});
    expect_parses_to("shuffle_x_se", {OPF_SHUFFLE_X, 3, 1, 1, 0});
    expect_parses_to("skip", {OPF_SKIP, 0, 0, 0, 0});
    EXPECT_EQ(names, 54);
    // The default pool is still HURRICANE's 32, in the same order.
    const char* const hurricane[OP_POOL_SIZE] = {
        "mb_k3_e3", "mb_k3_e6", "mb_k5_e3", "mb_k5_e6", "mb_k7_e3", "mb_k7_e6",
        "mb_k3_e3_se", "mb_k3_e6_se", "mb_k5_e3_se", "mb_k5_e6_se", "mb_k7_e3_se", "mb_k7_e6_se",
        "mb_k3_e3_hs", "mb_k3_e6_hs", "mb_k5_e3_hs", "mb_k5_e6_hs", "mb_k7_e3_hs", "mb_k7_e6_hs",
        "fused_k3_e3", "fused_k3_e6", "sep_k3", "sep_k5", "sep_k7", "shuffle_k3",
        "shuffle_k5", "shuffle_k7", "shuffle_x", "shuffle_k3_se", "shuffle_k5_se", "shuffle_k7_se",
        "shuffle_x_se", "skip"};
    ASSERT_EQ(OP_POOL_SIZE, 32);
    for (int i = 0; i < OP_POOL_SIZE; i++) EXPECT_STREQ(op_pool_names[i], hurricane[i]);
}

TEST(Operator, MbConvTakesAnyExpansionUpToTheLimitAndSeWithHs) {
    ASSERT_EQ(LIMIT_MB_EXPAND, 8);
    for (int k : {3, 5, 7})
        for (int e = 1; e <= LIMIT_MB_EXPAND; e++) {
            std::string base = "mb_k" + std::to_string(k) + "_e" + std::to_string(e);
            expect_parses_to(base, {OPF_MBCONV, k, e, 0, 0});
            expect_parses_to(base + "_se", {OPF_MBCONV, k, e, 1, 0});
            expect_parses_to(base + "_hs", {OPF_MBCONV, k, e, 0, 1});
            expect_parses_to(base + "_se_hs", {OPF_MBCONV, k, e, 1, 1});
        }
    expect_parses_to("mb_k5_e4_se_hs", {OPF_MBCONV, 5, 4, 1, 1});
}

TEST(Operator, HostileNamesAreUnknown) {
    const char* bad[] = {
        "mb_k4_e3", "mb_k3_e0", "mb_k3_e999", "mb_k3_e9", "mb_k3_e6_se_se", "mb_k3_e6_hs_hs",
        "mb_k3_e6_hs_se",  // one spelling only: _se before _hs
        "mb_k3_e4_se_hs_se", "mb_k3_e06", "mb_k03_e3", "mb_k3_e+4", "mb_k3_e-4", "mb_k3_e4_", "mb_k3_e4 ",
        " mb_k3_e4", "mb_k3_e", "mb_k3", "mb_k3_e4_xx", "mb_k3_e4294967300", "mb_k3_e99999999999999999999",
        "fused_k3_e4", "fused_k3_e6_se", "sep_k3_se", "shuffle_k3_hs", "shuffle_x_se_hs", "skip_se", "",
        "mb_k3_e4_se_hs_______________",  // longer than OP_NAME_MAX
    };
    for (const char* name : bad) {
        OpSpec s;
        EXPECT_EQ(op_parse(name, &s), -1) << "'" << name << "'";
    }
}
