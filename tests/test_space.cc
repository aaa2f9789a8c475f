// Search-space files with the parametric MBConv names: configs/spaces/ofa-mbv3.yaml
// (the OFA-MobileNetV3 w1.2 space) and the one error line for an unknown name.
#include <gtest/gtest.h>

#include <string>

#include "supernet/space.h"
#include "test_util.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST(Space, OfaMbv3HasTheMobileNetV3StagesAndChoices) {
    Space s;
    HwErr err = {{0}, 0};
    ASSERT_EQ(space_load(&s, "configs/spaces/ofa-mbv3.yaml", &err), 0) << err.msg;
    EXPECT_EQ(s.in_h, 224);
    EXPECT_EQ(s.in_c, 3);
    EXPECT_EQ(s.classes, 1000);
    EXPECT_EQ(s.stem.out_c, 24);
    EXPECT_EQ(s.stem.stride, 2);
    ASSERT_TRUE(s.stem.has_first);
    EXPECT_EQ(s.stem.first.expand, 1);
    EXPECT_EQ(s.head.features, 1152);
    ASSERT_EQ(s.n_layers, 20);
    // OFA-MBv3 w1.2 stages (ofa_note10/SOURCE.md): width, first stride, se, hs.
    const int width[] = {32, 48, 96, 136, 192}, stride[] = {2, 2, 2, 1, 2};
    const int se[] = {0, 1, 0, 1, 1}, hs[] = {0, 0, 1, 1, 1};
    const int in_side[] = {112, 56, 28, 14, 14};
    for (int st = 0; st < 5; st++)
        for (int i = 0; i < 4; i++) {
            const SpaceLayer& L = s.layers[4 * st + i];
            SCOPED_TRACE("stage " + std::to_string(st) + " layer " + std::to_string(i));
            EXPECT_EQ(L.out_c, width[st]);
            EXPECT_EQ(L.stride, i == 0 ? stride[st] : 1);
            if (i == 0) {
                EXPECT_EQ(L.in_h, in_side[st]);
            }
            ASSERT_EQ(L.n_ops, i < 2 ? 9 : 10);  // depth 2..4: layers 3 and 4 may skip
            int seen[8][8] = {{0}};
            for (int o = 0; o < 9; o++) {
                const OpSpec& op = L.ops[o];
                EXPECT_EQ(op.family, OPF_MBCONV);
                EXPECT_EQ(op.se, se[st]);
                EXPECT_EQ(op.hswish, hs[st]);
                ASSERT_TRUE(op.kernel == 3 || op.kernel == 5 || op.kernel == 7);
                ASSERT_TRUE(op.expand == 3 || op.expand == 4 || op.expand == 6);
                seen[op.kernel][op.expand]++;
            }
            for (int k : {3, 5, 7})
                for (int e : {3, 4, 6}) EXPECT_EQ(seen[k][e], 1) << "k" << k << " e" << e;
            if (i >= 2) {
                EXPECT_EQ(L.ops[9].family, OPF_SKIP);
            }
        }
    EXPECT_EQ(s.layers[19].in_h, 7);
    // Written and read back, the _se_hs names survive.
    TempDir tmp("space");
    std::string f = tmp.file("ofa.yaml");
    ASSERT_EQ(space_write_with(&s, f.c_str(), NULL, NULL, NULL, &err), 0) << err.msg;
    Space back;
    ASSERT_EQ(space_load(&back, f.c_str(), &err), 0) << err.msg;
    EXPECT_STREQ(back.layers[19].names[1], s.layers[19].names[1]);
    EXPECT_STREQ(back.layers[12].names[4], "mb_k5_e4_se_hs");
}

TEST(Space, UnknownOperatorNameIsOneLineNamingFileLineAndGrammar) {
    TempDir tmp("space");
    for (const char* name : {"mb_k4_e3", "mb_k3_e0", "mb_k3_e999", "mb_k3_e6_se_se"}) {
        std::string f = tmp.write(std::string(name) + ".yaml",
                                  "name: t\ninput: [8, 8, 3]\nclasses: 2\nstem: {out: 8, kernel: 3, stride: 1}\n"
                                  "layers:\n  - {out: 8, stride: 1,\n     ops: [mb_k3_e3, " +
                                      std::string(name) + "]}\n");
        Space s;
        HwErr err = {{0}, 0};
        EXPECT_EQ(space_load(&s, f.c_str(), &err), -1) << name;
        EXPECT_EQ(err.code, 2);
        std::string msg = err.msg;
        EXPECT_TRUE(contains(msg, f + ":7: ")) << msg;
        EXPECT_TRUE(contains(msg, "unknown operator '" + std::string(name) + "'")) << msg;
        EXPECT_TRUE(contains(msg, "expected mb_k{3,5,7}_e{1..8}[_se][_hs]")) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
}
