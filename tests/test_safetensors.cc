// Subnet weights as safetensors (supernet/safetensors.h): a round trip gives
// back every tensor of the path bit for bit, a subnet file loads into the
// one-path network extracted from the space, and a file of another path is
// refused.
#include <cstring>
#include <string>
#include <vector>

#include "test_util.h"

extern "C" {
#include "kernels/ops.h"
#include "supernet/safetensors.h"
#include "supernet/supernet.h"
}

namespace {

struct Net {
    Space space;
    Supernet* sn = nullptr;
    Net(const Space& s, uint64_t seed) : space(s) {
        HwErr err = {};
        OpContext ctx = {1, nullptr};
        sn = supernet_create(&space, &ops_cpu, &ctx, 2, &err);
        EXPECT_NE(sn, nullptr) << err.msg;
        if (sn) {
            EXPECT_EQ(supernet_init_params(sn, seed, &err), 0) << err.msg;
        }
    }
    ~Net() { supernet_destroy(sn); }
    // Parameters and BN running statistics of block b.
    std::vector<float> params(int b) const {
        const float* p = sn->params + sn->param_offset[b];
        return std::vector<float>(p, p + sn->blocks[b].param_floats);
    }
    std::vector<float> running(int b) const {
        size_t end = b + 1 < sn->n_blocks ? sn->running_offset[b + 1] : sn->running_floats;
        return std::vector<float>(sn->running + sn->running_offset[b], sn->running + end);
    }
    int block_of(int layer, int op) const { return sn->layer_first[layer] + op; }
};

Space load(const char* path) {
    Space s;
    HwErr err = {};
    EXPECT_EQ(space_load(&s, path, &err), 0) << err.msg;
    return s;
}

}  // namespace

TEST(Safetensors, RoundTripGivesBackThePathBitForBit) {
    Space s = load("tests/spaces/fmnist-small.yaml");
    Net a(s, 1), b(s, 2);
    ASSERT_TRUE(a.sn && b.sn);
    // Distinct running statistics, so they are checked too.
    for (size_t i = 0; i < a.sn->running_floats; i++) a.sn->running[i] = 0.5f + 0.001f * (float)i;
    std::string dir = test_temp_dir("safetensors");
    int path[3] = {2, 3, 1};
    HwErr err = {};
    ASSERT_EQ(safetensors_write_subnet(a.sn, path, (dir + "/a.safetensors").c_str(), &err), 0) << err.msg;
    ASSERT_EQ(safetensors_read_subnet(b.sn, path, (dir + "/a.safetensors").c_str(), &err), 0) << err.msg;
    std::vector<int> blocks = {0, a.sn->n_blocks - 1};
    for (int l = 0; l < 3; l++) blocks.push_back(a.block_of(l, path[l]));
    for (int blk : blocks) {
        expect_bitwise("params of block " + std::to_string(blk), b.params(blk), a.params(blk));
        expect_bitwise("running of block " + std::to_string(blk), b.running(blk), a.running(blk));
    }
    // Written again from b: the same file.
    ASSERT_EQ(safetensors_write_subnet(b.sn, path, (dir + "/b.safetensors").c_str(), &err), 0) << err.msg;
    EXPECT_EQ(hwtest::slurp(dir + "/b.safetensors"), hwtest::slurp(dir + "/a.safetensors"));
}

// What extract and fine-tuning do: the subnet file of the supernet loads into
// the network of the space restricted to that path (every layer op 0).
TEST(Safetensors, SubnetFileLoadsIntoTheRestrictedSpace) {
    Space s = load("tests/spaces/fmnist-small.yaml");
    Net a(s, 1);
    ASSERT_TRUE(a.sn);
    int path[3] = {1, 2, 0}, zeros[3] = {0, 0, 0};
    Space one;
    space_restrict(&s, path, &one);
    Net sub(one, 9);
    ASSERT_TRUE(sub.sn);
    std::string file = test_temp_dir("safetensors") + "/w.safetensors";
    HwErr err = {};
    ASSERT_EQ(safetensors_write_subnet(a.sn, path, file.c_str(), &err), 0) << err.msg;
    ASSERT_EQ(safetensors_read_subnet(sub.sn, zeros, file.c_str(), &err), 0) << err.msg;
    for (int l = 0; l < 3; l++)
        expect_bitwise("layer " + std::to_string(l), sub.params(sub.block_of(l, 0)), a.params(a.block_of(l, path[l])));
}

TEST(Safetensors, AFileOfAnotherPathIsRefused) {
    Space s = load("tests/spaces/fmnist-small.yaml");
    Net a(s, 1), b(s, 2);
    ASSERT_TRUE(a.sn && b.sn);
    std::string file = test_temp_dir("safetensors") + "/w.safetensors";
    int path[3] = {0, 0, 0}, other[3] = {1, 0, 0};
    HwErr err = {};
    ASSERT_EQ(safetensors_write_subnet(a.sn, path, file.c_str(), &err), 0) << err.msg;
    EXPECT_EQ(safetensors_read_subnet(b.sn, other, file.c_str(), &err), -1);
    EXPECT_NE(std::string(err.msg).find(file), std::string::npos) << err.msg;
}
