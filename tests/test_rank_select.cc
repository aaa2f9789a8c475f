// Stratified selection of `hwnas bench ranking` (search/rank_select.h) on
// fmnist-small, whose 3 x 4 x 2 = 24 architectures the test enumerates (the
// 2000 random draws miss one of them with probability ~24 (23/24)^2000).
#include <cmath>
#include <vector>

#include "search_fixture.h"

extern "C" {
#include "search/rank_select.h"
}

namespace {

double scrambled_ms(int l, int o) { return 0.2 + 0.01 * ((o * 37 + l * 11) % 23); }

struct Small {
    Space s;
    Lut* lut = nullptr;
    std::vector<double> all;  // predicted ms of every architecture
    Small() {
        HwErr err = {};
        EXPECT_EQ(space_load(&s, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
        lut = make_table(s, scrambled_ms);
        int ops[SPACE_MAX_LAYERS] = {0};
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 4; b++)
                for (int c = 0; c < 2; c++) {
                    ops[0] = a, ops[1] = b, ops[2] = c;
                    double ms = 0;
                    EXPECT_EQ(latency_predict(lut, &s, ops, &ms, &err), 0) << err.msg;
                    all.push_back(ms);
                }
    }
    ~Small() { lut_free(lut); }
};

TEST(RankSelect, EvenlySpacedTargetsFromFastestToSlowest) {
    Small t;
    ASSERT_EQ(t.all.size(), 24u);
    double lo = t.all[0], hi = t.all[0];
    for (double v : t.all) lo = std::fmin(lo, v), hi = std::fmax(hi, v);
    RankPick picks[3];
    HwErr err = {};
    ASSERT_EQ(rank_select_stratified(&t.s, t.lut, 3, 7, picks, &err), 0) << err.msg;
    EXPECT_DOUBLE_EQ(picks[0].latency_ms, lo);
    EXPECT_DOUBLE_EQ(picks[2].latency_ms, hi);
    // The middle one is an architecture nearest to the middle latency.
    double mid = (lo + hi) / 2, nearest = 1e9;
    for (double v : t.all) nearest = std::fmin(nearest, std::fabs(v - mid));
    EXPECT_DOUBLE_EQ(std::fabs(picks[1].latency_ms - mid), nearest);
    EXPECT_FALSE(rank_pick_same_ops(&t.s, picks[0].ops, picks[1].ops));
    EXPECT_FALSE(rank_pick_same_ops(&t.s, picks[1].ops, picks[2].ops));
}

TEST(RankSelect, DeterministicDistinctAndBounded) {
    Small t;
    HwErr err = {};
    RankPick a[24], b[24];
    ASSERT_EQ(rank_select_stratified(&t.s, t.lut, 24, 3, a, &err), 0) << err.msg;
    ASSERT_EQ(rank_select_stratified(&t.s, t.lut, 24, 3, b, &err), 0) << err.msg;
    for (int i = 0; i < 24; i++) {
        EXPECT_TRUE(rank_pick_same_ops(&t.s, a[i].ops, b[i].ops)) << i;
        for (int j = 0; j < i; j++) EXPECT_FALSE(rank_pick_same_ops(&t.s, a[i].ops, a[j].ops)) << i << " " << j;
    }
    // All 24 taken: a 25th does not exist.
    RankPick many[25];
    EXPECT_EQ(rank_select_stratified(&t.s, t.lut, 25, 3, many, &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_NE(std::string(err.msg).find("only 24 distinct"), std::string::npos) << err.msg;
    EXPECT_EQ(rank_select_stratified(&t.s, t.lut, 0, 3, many, &err), -1);
    EXPECT_EQ(err.code, 2);
}

TEST(RankSelect, MissingEntryIsNamed) {
    Small t;
    lut_free(t.lut);
    t.lut = make_table(t.s, [](int l, int o) { return l == 2 && o == 1 ? -1.0 : scrambled_ms(l, o); });
    RankPick picks[3];
    HwErr err = {};
    EXPECT_EQ(rank_select_stratified(&t.s, t.lut, 3, 1, picks, &err), -1);
    EXPECT_NE(std::string(err.msg).find("sep_k3"), std::string::npos) << err.msg;
}

}  // namespace
