// The hardware-specific space generator (search/space_gen.h): operators
// ranked by capacity per unit of latency, the top k kept, `skip` kept beyond
// the top k, operators without a table entry left out.
#include <cstring>
#include <string>

#include "search_fixture.h"

extern "C" {
#include "common/config.h"
#include "search/space_gen.h"
}

namespace {

double scrambled_ms(int l, int o) { return 0.2 + 0.01 * ((o * 37 + l * 11) % 23); }

struct Pool {
    Space s;
    SpaceGenSection gen;
    Pool() {
        HwErr err = {};
        EXPECT_EQ(space_load(&s, "tests/spaces/tiny.yaml", &err), 0) << err.msg;
        Config cfg;
        config_defaults(&cfg);
        gen = cfg.space_gen;
        gen.top_k = 3;
    }
};

bool has_op(const SpaceLayer& L, const char* name) {
    for (int o = 0; o < L.n_ops; o++)
        if (!std::strcmp(L.names[o], name)) return true;
    return false;
}

}  // namespace

TEST(SpaceGen, RanksByCapacityPerLatencyAndKeepsTheTopK) {
    Pool p;
    Lut* lut = make_table(p.s, scrambled_ms);
    std::vector<RankTable> tables(p.s.n_layers);
    Space out;
    HwErr err = {};
    ASSERT_EQ(space_generate(&p.s, lut, &p.gen, "cpu", &out, tables.data(), &err), 0) << err.msg;
    EXPECT_EQ(std::string(out.name), std::string(p.s.name) + "-cpu");
    for (int l = 0; l < p.s.n_layers; l++) {
        const RankTable& t = tables[l];
        ASSERT_EQ(t.count, p.s.layers[l].n_ops);
        int kept_non_skip = 0;
        for (int i = 0; i < t.count; i++) {
            const RankRow& r = t.rows[i];
            int o = space_op_index(&p.s, l, r.op);
            ASSERT_GE(o, 0) << r.op;
            EXPECT_EQ(r.latency_ms, scrambled_ms(l, o)) << r.op;
            bool skip = !std::strcmp(r.op, "skip");
            if (!skip) {
                EXPECT_DOUBLE_EQ(r.score, r.flops / r.latency_ms) << r.op;
            }
            if (i > 0) {
                EXPECT_GE(t.rows[i - 1].score, r.score) << "layer " << l << " row " << i;
            }
            // The first k operators other than skip are kept, and skip always.
            bool want_kept = skip || kept_non_skip < p.gen.top_k;
            EXPECT_EQ(r.kept, want_kept ? 1 : 0) << "layer " << l << " " << r.op;
            if (!skip && want_kept) kept_non_skip++;
            EXPECT_EQ(has_op(out.layers[l], r.op), want_kept) << "layer " << l << " " << r.op;
        }
        bool pool_has_skip = space_op_index(&p.s, l, "skip") >= 0;
        EXPECT_EQ(out.layers[l].n_ops, p.gen.top_k + (pool_has_skip ? 1 : 0)) << "layer " << l;
    }
    lut_free(lut);
}

// skip ranks last (no capacity) yet stays in the space, beyond the top k.
TEST(SpaceGen, SkipIsKeptBeyondTheTopK) {
    Pool p;
    int layer = -1;
    for (int l = 0; l < p.s.n_layers && layer < 0; l++)
        if (space_op_index(&p.s, l, "skip") >= 0) layer = l;
    ASSERT_GE(layer, 0) << "tiny.yaml offers skip in a shape-keeping layer";
    p.gen.top_k = 1;
    Lut* lut = make_table(p.s, scrambled_ms);
    std::vector<RankTable> tables(p.s.n_layers);
    Space out;
    HwErr err = {};
    ASSERT_EQ(space_generate(&p.s, lut, &p.gen, "cpu", &out, tables.data(), &err), 0) << err.msg;
    EXPECT_EQ(out.layers[layer].n_ops, 2);
    EXPECT_TRUE(has_op(out.layers[layer], "skip"));
    const RankTable& t = tables[layer];
    EXPECT_STREQ(t.rows[t.count - 1].op, "skip") << "no capacity: ranked last";
    EXPECT_EQ(t.rows[t.count - 1].kept, 1);
    lut_free(lut);
}

// An operator the target has no entry for is left out and listed as missing;
// a layer with no entry at all is an error naming the layer.
TEST(SpaceGen, MissingTableEntries) {
    Pool p;
    int gone = space_op_index(&p.s, 1, "mb_k3_e3");
    ASSERT_GE(gone, 0);
    Lut* lut = make_table(p.s, [&](int l, int o) { return l == 1 && o == gone ? -1.0 : scrambled_ms(l, o); });
    std::vector<RankTable> tables(p.s.n_layers);
    Space out;
    HwErr err = {};
    p.gen.top_k = 100;
    ASSERT_EQ(space_generate(&p.s, lut, &p.gen, "cpu", &out, tables.data(), &err), 0) << err.msg;
    EXPECT_FALSE(has_op(out.layers[1], "mb_k3_e3"));
    EXPECT_EQ(out.layers[1].n_ops, p.s.layers[1].n_ops - 1);
    const RankRow& last = tables[1].rows[tables[1].count - 1];
    EXPECT_STREQ(last.op, "mb_k3_e3") << "missing rows rank after every measured one";
    EXPECT_EQ(last.missing, 1);
    EXPECT_EQ(last.kept, 0);
    lut_free(lut);
    // Layer 3 (stride 1, 12 -> 16 channels: no skip) without any entry.
    Lut* empty = make_table(p.s, [](int l, int o) { return l == 3 ? -1.0 : scrambled_ms(l, o); });
    ASSERT_LT(space_op_index(&p.s, 3, "skip"), 0);
    EXPECT_EQ(space_generate(&p.s, empty, &p.gen, "cpu", &out, tables.data(), &err), -1);
    EXPECT_EQ(err.code, 2);
    EXPECT_NE(std::string(err.msg).find("layer 3: the target has no entry for any operator"), std::string::npos)
        << err.msg;
    lut_free(empty);
}
