// The machine-speed reference of a latency table (search/speed_reference.h):
// networks stored by name survive the table file, and a reference that does
// not fit the space, or a table with half of one, is an error naming the file.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "search/lut.h"
#include "search/speed_reference.h"
#include "supernet/space.h"
#include "test_util.h"

namespace {

struct SmallSpace {
    Space s;
    SmallSpace() {
        HwErr err = {};
        EXPECT_EQ(space_load(&s, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
    }
};

TEST(SpeedReference, NetworksRoundTripThroughTheTableFile) {
    SmallSpace sp;
    const Space& s = sp.s;
    ASSERT_EQ(s.n_layers, 3);
    std::vector<int> paths = {0, 1, 1, 2, 0, 1, 1, 3, 0};
    Lut* lut = lut_new();
    HwErr err = {};
    ASSERT_EQ(speed_reference_set(lut, &s, paths.data(), 3, 4.25, &err), 0) << err.msg;
    TempDir tmp("speedref");
    std::string file = tmp.file("t.yaml");
    ASSERT_EQ(lut_write(lut, file.c_str(), &err), 0) << err.msg;
    Lut* back = lut_load(file.c_str(), &err);
    ASSERT_NE(back, nullptr) << err.msg;
    EXPECT_EQ(back->reference_ms, 4.25);
    std::vector<int> got(SPEED_REF_PATHS * SPACE_MAX_LAYERS, -1);
    ASSERT_EQ(speed_reference_paths(back, &s, got.data(), &err), 3) << err.msg;
    EXPECT_EQ(std::vector<int>(got.begin(), got.begin() + 9), paths);
    EXPECT_EQ(speed_reference_set(lut, &s, paths.data(), SPEED_REF_PATHS + 1, 1.0, &err), -1);
    lut_free(lut), lut_free(back);
}

// The error of a table whose reference_ops is `ops` (code 2, or 0 if none).
std::string reference_error(const Space& s, const std::string& ops, int* code) {
    Lut* lut = lut_new();
    snprintf(lut->reference_ops, sizeof lut->reference_ops, "%s", ops.c_str());
    snprintf(lut->path, sizeof lut->path, "t.yaml");
    lut->reference_ms = 1;
    std::vector<int> paths(SPEED_REF_PATHS * SPACE_MAX_LAYERS);
    HwErr err = {};
    int n = speed_reference_paths(lut, &s, paths.data(), &err);
    lut_free(lut);
    *code = n < 0 ? err.code : 0;
    return n < 0 ? err.msg : "";
}

TEST(SpeedReference, AReferenceOfAnotherSpaceIsAnError) {
    SmallSpace sp;
    std::string a = std::string(sp.s.layers[0].names[0]) + " " + sp.s.layers[1].names[0] + " " + sp.s.layers[2].names[0];
    int code = 0;
    EXPECT_EQ(reference_error(sp.s, a + ";" + a, &code), "");
    EXPECT_EQ(code, 0);
    struct Case {
        std::string ops, needle;
    } cases[] = {
        {"bogus " + a, "t.yaml: reference_ops network 1, layer 1: found 'bogus', expected an operator of that layer"},
        {a + "; " + sp.s.layers[0].names[0], "network 2: found fewer names than the 3 layers"},
        {a + " " + sp.s.layers[0].names[0], "network 1: found more names than the 3 layers"},
        {a + ";" + a + ";" + a + ";" + a, "found more than 3 networks"},
        {" ; ", "network 1: found fewer names"},
    };
    for (const Case& c : cases) {
        std::string msg = reference_error(sp.s, c.ops, &code);
        EXPECT_EQ(code, 2) << c.ops;
        EXPECT_NE(msg.find(c.needle), std::string::npos) << c.ops << " -> " << msg;
    }
}

TEST(SpeedReference, HalfAReferenceInATableIsAnError) {
    TempDir tmp("speedref");
    const std::string head = "device: d\nunit: ms\nmethod: measured\nsource: s\n";
    HwErr err = {};
    for (std::string part : {"reference_ops: a b c\n", "reference_ms: 2\n"}) {
        std::string file = tmp.write("t.yaml", head + part + "entries: {}\n");
        EXPECT_EQ(lut_load(file.c_str(), &err), nullptr) << part;
        EXPECT_NE(std::string(err.msg).find("found only one of reference_ops and reference_ms"), std::string::npos)
            << err.msg;
        EXPECT_NE(std::string(err.msg).find(file + ":5"), std::string::npos) << err.msg;
    }
    std::string file = tmp.write("t.yaml", head + "reference_ops: a b c\nreference_ms: 0\nentries: {}\n");
    EXPECT_EQ(lut_load(file.c_str(), &err), nullptr);
    EXPECT_NE(std::string(err.msg).find("reference_ms"), std::string::npos) << err.msg;
}

}  // namespace
