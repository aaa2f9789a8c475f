// The limits of common/limits.h that other suites do not already try: a file
// just past each is one error naming the file, the place and the limit,
// found fast and without allocating what the file claims. (Tried elsewhere:
// YAML file size and nesting, 10^6 deep, in test_yaml.cc; image pixels in
// test_hostile_data.cc; image-folder depth and loops in test_hostile_data.cc;
// an IDX claiming 2^31 - 1 images in test_data_idx.cc.)
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>

#include "common/limits.h"
#include "common/yaml_tree.h"
#include "data/idx.h"
#include "search/search_csv.h"
#include "supernet/checkpoint.h"
#include "supernet/safetensors.h"
#include "supernet/space.h"
#include "supernet/supernet.h"
#include "test_util.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A file of `bytes` bytes that takes no disk space (a hole).
bool sparse_file(const std::string& path, long long bytes) {
    int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return false;
    bool ok = ftruncate(fd, (off_t)bytes) == 0;
    close(fd);
    return ok;
}

// The small test space, as a CPU supernet, for the loaders that fill one.
struct SmallNet {
    Space space;
    Supernet* sn = nullptr;
    SmallNet() {
        HwErr err = {};
        EXPECT_EQ(space_load(&space, "tests/spaces/fmnist-small.yaml", &err), 0) << err.msg;
        OpContext ctx = {1, nullptr};
        sn = supernet_create(&space, &ops_cpu, &ctx, 2, &err);
        EXPECT_NE(sn, nullptr) << err.msg;
    }
    ~SmallNet() { supernet_destroy(sn); }
};

const char kSpaceHead[] =
    "name: big\ninput: [28, 28, 1]\nclasses: 10\nstem: {out: 8, kernel: 3, stride: 2, act: relu}\n"
    "head: {features: 32, act: relu}\nlayers: [";

std::string space_with_layers(long n) {
    std::string text = kSpaceHead;
    text.reserve(text.size() + 3 * (size_t)n + 2);
    for (long i = 0; i < n; i++) text += i ? ",{}" : "{}";
    return text + "]\n";
}

}  // namespace

// One value past LIMIT_YAML_NODES in a flat list: refused at its line.
TEST(Limits, YamlNodeCount) {
    std::string text = "[";
    text.reserve(2 * (size_t)LIMIT_YAML_NODES + 4);
    for (long i = 0; i < LIMIT_YAML_NODES; i++) text += "0,";  // and one more value below
    text += "0]\n";
    HwErr err = {};
    YamlDoc* d = yaml_load_string(text.c_str(), "nodes.yaml", &err);
    EXPECT_EQ(d, nullptr);
    yaml_free(d);
    EXPECT_TRUE(contains(err.msg, "nodes.yaml:1:")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "LIMIT_YAML_NODES")) << err.msg;
}

// A space of 65 layers, and one of 10^7 (a 30 MB file, under the YAML size
// limit): each refused with the file and line, the second before its tree is built.
TEST(Limits, SpaceLayers) {
    TempDir dir("limits_space");
    Space s;
    HwErr err = {};
    EXPECT_EQ(space_load(&s, dir.write("one.yaml", space_with_layers(1)).c_str(), &err), -1);  // {} has no `out`
    EXPECT_TRUE(contains(err.msg, "layers[0]")) << err.msg;
    err = {};
    EXPECT_EQ(space_load(&s, dir.write("65.yaml", space_with_layers(LIMIT_SPACE_LAYERS + 1)).c_str(), &err), -1);
    EXPECT_TRUE(contains(err.msg, "65.yaml:6: layers: expected a list of 1..64 layers")) << err.msg;
    err = {};
    EXPECT_EQ(space_load(&s, dir.write("1e7.yaml", space_with_layers(10000000)).c_str(), &err), -1);
    EXPECT_TRUE(contains(err.msg, "1e7.yaml:6:")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "LIMIT_YAML_NODES")) << err.msg;
}

// A layer listing more operators than the pool.
TEST(Limits, LayerOps) {
    TempDir dir("limits_ops");
    std::string ops;
    for (int i = 0; i <= LIMIT_LAYER_OPS; i++) ops += i ? ", sep_k3" : "sep_k3";
    std::string text = std::string(kSpaceHead) + "{out: 12, stride: 1, ops: [" + ops + "]}]\n";
    Space s;
    HwErr err = {};
    EXPECT_EQ(space_load(&s, dir.write("ops.yaml", text).c_str(), &err), -1);
    EXPECT_TRUE(contains(err.msg, "ops.yaml:6: layers[0].ops: expected `all` or a list of 1..32 operators")) << err.msg;
}

// A safetensors file whose first 8 bytes declare a 2^40-byte header.
TEST(Limits, SafetensorsHeaderOf2To40Bytes) {
    TempDir dir("limits_st");
    SmallNet net;
    ASSERT_NE(net.sn, nullptr);
    uint64_t hlen = 1ull << 40;
    std::string bytes(reinterpret_cast<const char*>(&hlen), 8);
    bytes += "{}";
    std::string path = dir.write("w.safetensors", bytes);
    int zeros[SPACE_MAX_LAYERS] = {0};
    HwErr err = {};
    EXPECT_EQ(safetensors_read_subnet(net.sn, zeros, path.c_str(), &err), -1);
    EXPECT_TRUE(contains(err.msg, "w.safetensors: bytes 0-7 declare a header of 1099511627776 bytes")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "LIMIT_SAFETENSORS_HEADER_BYTES")) << err.msg;
}

// A header listing one tensor more than LIMIT_SAFETENSORS_TENSORS.
TEST(Limits, SafetensorsTensorCount) {
    TempDir dir("limits_st_n");
    SmallNet net;
    ASSERT_NE(net.sn, nullptr);
    std::string header = "{";
    for (int i = 0; i <= LIMIT_SAFETENSORS_TENSORS; i++)
        header += (i ? ",\"t" : "\"t") + std::to_string(i) + "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}";
    header += "}";
    uint64_t hlen = header.size();
    std::string bytes(reinterpret_cast<const char*>(&hlen), 8);
    std::string path = dir.write("n.safetensors", bytes + header + std::string(4, '\0'));
    int zeros[SPACE_MAX_LAYERS] = {0};
    HwErr err = {};
    EXPECT_EQ(safetensors_read_subnet(net.sn, zeros, path.c_str(), &err), -1);
    EXPECT_TRUE(contains(err.msg, "n.safetensors: header lists more than 100000 tensors")) << err.msg;
}

// An IDX file claiming 2^31 images, one more than LIMIT_IDX_ITEMS.
TEST(Limits, IdxClaiming2To31Images) {
    TempDir dir("limits_idx");
    const unsigned char header[16] = {0, 0, 8, 3, 0x80, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 28};
    std::string path = dir.write("images.raw", std::string(reinterpret_cast<const char*>(header), 16) + "xyz");
    IdxImages im;
    HwErr err = {};
    EXPECT_EQ(idx_read_images(path.c_str(), &im, &err), -1);
    EXPECT_TRUE(contains(err.msg, "images.raw: image count 2147483648, expected 1..2147483647 (LIMIT_IDX_ITEMS)"))
        << err.msg;
}

// A checkpoint one byte past LIMIT_CHECKPOINT_BYTES (a sparse file): refused
// before it is read.
TEST(Limits, CheckpointSize) {
    TempDir dir("limits_ckpt");
    SmallNet net;
    ASSERT_NE(net.sn, nullptr);
    std::string path = dir.file("big.ckpt");
    ASSERT_TRUE(sparse_file(path, LIMIT_CHECKPOINT_BYTES + 1));
    TrainState st;
    HwErr err = {};
    EXPECT_EQ(checkpoint_load(path.c_str(), net.sn, &st, nullptr, &err), -1);
    EXPECT_TRUE(contains(err.msg, "big.ckpt: checkpoint of 68719476737 bytes, expected at most 68719476736")) << err.msg;
}

// search.csv one byte past LIMIT_SEARCH_CSV_BYTES (sparse), and one with a
// row more than LIMIT_SEARCH_CSV_ROWS (empty lines: counted before parsed).
TEST(Limits, SearchCsvSizeAndRows) {
    TempDir dir("limits_csv");
    std::string big = dir.file("big.csv");
    ASSERT_TRUE(sparse_file(big, LIMIT_SEARCH_CSV_BYTES + 1));
    Candidate* c = nullptr;
    int count = 0;
    auto resolve = [](void*, int, const char*) { return 0; };
    HwErr err = {};
    EXPECT_EQ(search_csv_read(big.c_str(), 1, resolve, nullptr, &c, &count, &err), -1);
    free(c);
    EXPECT_TRUE(contains(err.msg, "big.csv: 2147483649 bytes, expected at most 2147483648 (LIMIT_SEARCH_CSV_BYTES)"))
        << err.msg;
    std::string rows = std::string(SEARCH_CSV_HEADER) + "\n" + std::string((size_t)LIMIT_SEARCH_CSV_ROWS + 1, '\n');
    std::string many = dir.write("rows.csv", rows);
    c = nullptr, count = 0, err = {};
    EXPECT_EQ(search_csv_read(many.c_str(), 1, resolve, nullptr, &c, &count, &err), -1);
    free(c);
    EXPECT_TRUE(contains(err.msg, "rows.csv:10000002: more than 10000000 rows")) << err.msg;
}
