// Numbers and states that come from outside, end to end (issue 16): every
// numeric flag of every command is read like the config key it stands for
// (one error line naming the flag, what was found and the accepted range,
// exit 2); a target file's threads and batch are range-checked; a resumed
// checkpoint's training state must be one the run can reach; --resume before
// the first checkpoint starts from the beginning; the YAML writer escapes
// the Unicode line breaks so every value reads back as written.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/yaml_tree.h"
#include "supernet/checkpoint.h"
#include "supernet/space.h"
#include "test_util.h"

namespace {

using hwtest::Result;
using hwtest::bin;
using hwtest::slurp;

void write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
}

bool exists(const std::string& path) {
    struct stat st;
    return stat(path.c_str(), &st) == 0;
}

// Runs hwnas with exactly these arguments (no shell: values may hold spaces,
// newlines or nothing at all).
Result run_args(const std::vector<std::string>& args) {
    std::string dir = test_temp_dir("clinum");
    std::string out = dir + "/out", err = dir + "/err";
    std::vector<std::string> all = {bin()};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(&a[0]);
    argv.push_back(nullptr);
    pid_t pid = fork();
    if (pid == 0) {
        int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0) _exit(126);
        execv(argv[0], argv.data());
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) return {-1, "", "fork/wait failed"};
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

// Splits on single spaces: for arguments without spaces of their own.
Result run(const std::string& line) {
    std::vector<std::string> args;
    std::stringstream in(line);
    std::string a;
    while (in >> a) args.push_back(a);
    return run_args(args);
}

// One error line, `hwnas: error: ...`, containing `needle`.
void expect_error(const Result& r, int code, const std::string& needle, const std::string& what) {
    EXPECT_EQ(r.code, code) << what << "\n" << r.err;
    EXPECT_EQ(r.err.rfind("hwnas: error: ", 0), 0u) << what << "\n" << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << what << "\nwant: " << needle << "\ngot:  " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << what << ": more than one line: " << r.err;
}

const char kSmoke[] = "tests/configs/smoke.yaml";
const char kArch[] = "space: fmnist-small\nops: [mb_k3_e3, skip, sep_k3]\n";

}  // namespace

// --epochs and --threads of `hwnas train` are read as train.epochs and
// train.threads: the same parser and range as `--set`, errors naming the flag.
// The data root does not exist, so a value that slipped through would fail
// later, with another message, before any thread is started.
TEST(CliNumbers, TrainFlagsAreReadLikeTheirConfigKeys) {
    std::string dir = test_temp_dir("clinum");
    std::vector<std::string> base = {"train", "-c", kSmoke, "-o", dir + "/run", "--set", "data.root=" + dir + "/none"};
    struct Case {
        const char *flag, *value, *want;
    } cases[] = {
        {"--threads", "-5", "--threads: found '-5', expected an integer in 0..1024"},
        {"--threads", "abc", "--threads: found 'abc', expected an integer in 0..1024"},
        {"--epochs", "-3", "--epochs: found '-3', expected an integer in 0..100000"},
        {"--epochs", "1x", "--epochs: found '1x', expected an integer in 0..100000"},
        {"--epochs", "5 # five", "--epochs: found '5 # five', expected an integer in 0..100000"},
        {"--epochs", "", "--epochs: found an empty value, expected an integer in 0..100000"},
        {"--threads", "100000", "--threads: found '100000', expected an integer in 0..1024"},
        {"--threads", "1025", "--threads: found '1025', expected an integer in 0..1024"},
    };
    for (const Case& c : cases) {
        std::vector<std::string> args = base;
        args.push_back(c.flag);
        args.push_back(c.value);
        Result r = run_args(args);
        expect_error(r, 2, c.want, std::string(c.flag) + " '" + c.value + "'");
        ASSERT_EQ(r.code, 2) << "stopping before a value that would start threads";
    }
    EXPECT_FALSE(exists(dir + "/run")) << "nothing is written on bad input";
    // The same text after the name as `--set train.epochs=VALUE` gives.
    for (const char* value : {"-3", "1x", "100001"}) {
        std::vector<std::string> flag = base, set = base;
        flag.insert(flag.end(), {"--epochs", value});
        set.insert(set.end(), {"--set", std::string("train.epochs=") + value});
        std::string a = run_args(flag).err, b = run_args(set).err;
        ASSERT_NE(a.find("--epochs: "), std::string::npos) << a;
        ASSERT_NE(b.find("train.epochs: "), std::string::npos) << b;
        EXPECT_EQ(a.substr(a.find("--epochs: ") + 10), b.substr(b.find("train.epochs: ") + 14));
    }
}

// Valid flag values land in the resolved config exactly as --set puts them.
TEST(CliNumbers, FlagValuesEqualTheirSetOverrides) {
    std::string dir = test_temp_dir("clinum");
    Result a = run(std::string("train -c ") + kSmoke + " -o " + dir + "/a --epochs 0 --threads 1");
    ASSERT_EQ(a.code, 0) << a.err;
    Result b = run(std::string("train -c ") + kSmoke + " -o " + dir + "/b --set train.epochs=0 --set train.threads=1");
    ASSERT_EQ(b.code, 0) << b.err;
    std::string config = slurp(dir + "/a/config.yaml");
    EXPECT_NE(config.find("\n  epochs: 0\n"), std::string::npos) << config;
    EXPECT_NE(config.find("\n  threads: 1\n"), std::string::npos) << config;
    EXPECT_EQ(config, slurp(dir + "/b/config.yaml"));
}

// Every other command: each case fails fast after parsing (a missing file),
// so a flag value that slipped through shows as another error.
TEST(CliNumbers, EveryCommandChecksItsNumericFlags) {
    std::string d = test_temp_dir("clinum");
    write(d + "/a.yaml", kArch);
    std::string smoke = kSmoke, none = d + "/none";
    std::string sub = " -c " + smoke + " --arch " + d + "/a.yaml ";
    struct Case {
        std::string args, want;
    } cases[] = {
        {"finetune" + sub + "--init " + none + " -o " + d + "/f --epochs -1",
         "--epochs: found '-1', expected an integer in 0..100000"},
        {"finetune" + sub + "--init " + none + " -o " + d + "/f --lr nan", "--lr: found 'nan', expected a number in (0, 100]"},
        {"retrain" + sub + "-o " + d + "/r --lr 0 --set data.root=" + none, "--lr: found '0', expected a number in (0, 100]"},
        {"retrain" + sub + "-o " + d + "/r --epochs 2e3 --set data.root=" + none,
         "--epochs: found '2e3', expected an integer in 0..100000"},
        {"eval" + sub + "--weights " + none + " --threads x", "--threads: found 'x', expected an integer in 0..1024"},
        {"extract" + sub + "--supernet " + none + " -o " + d + "/w --threads -7",
         "--threads: found '-7', expected an integer in 0..1024"},
        {"search -c " + smoke + " --supernet " + none + " --target " + none + " -o " + d + "/s --latency-ms nan",
         "--latency-ms: found 'nan', expected a number in [0, 1e+09]"},
        {"search -c " + smoke + " --supernet " + none + " --target " + none + " -o " + d + "/s --threads 99999",
         "--threads: found '99999', expected an integer in 0..1024"},
        {"space -c " + smoke + " --target " + none + " -o " + d + "/sp.yaml --threads abc",
         "--threads: found 'abc', expected an integer in 0..1024"},
        {"run -c " + smoke + " -o " + d + "/run --target " + none + " --latency-ms nan",
         "--latency-ms: found 'nan', expected a number in [0, 1e+09]"},
        {"run -c " + smoke + " -o " + d + "/run --target " + none + " --latency-ms -1",
         "--latency-ms: found '-1', expected a number in [0, 1e+09]"},
        {"run -c " + smoke + " -o " + d + "/run --target " + none + " --latency-ms 2ms",
         "--latency-ms: found '2ms', expected a number in [0, 1e+09]"},
        {"bench train --space " + none + " --threads 100000", "--threads: found '100000', expected an integer in 0..1024"},
        {"bench train --space " + none + " --batch 0", "--batch: found '0', expected an integer in 1..65536"},
        {"bench train --space " + none + " --steps 1x", "--steps: found '1x', expected an integer in 1..1000000"},
        {"bench train --space " + none + " --warmup -1", "--warmup: found '-1', expected an integer in 0..1000000"},
        {"bench train --space " + none + " --seed -1", "--seed: found '-1', expected an integer in 0..18446744073709551615"},
        {"bench data --root " + none + " --workers 100000", "--workers: found '100000', expected an integer in 0..256"},
        {"bench data --root " + none + " --size 1x", "--size: found '1x', expected an integer in 8..1024"},
        {"bench pipeline -c " + none + " --short 4294967297,1", "--short: found '4294967297,1'"},
        {"export --arch " + d + "/a.yaml --weights " + none + " -o " + d + "/m.onnx --batch 0",
         "--batch: found '0', expected an integer in 1..65536"},
        {"export --arch " + d + "/a.yaml --weights " + none + " -o " + d + "/m.onnx --opset 18",
         "--opset: found '18', expected an integer in 13..17"},
        {"latency profile --space " + none + " -o " + d + "/t.yaml --runs x",
         "--runs: found 'x', expected an integer in 1..1000000"},
        {"latency profile --space " + none + " -o " + d + "/t.yaml --threads -2",
         "--threads: found '-2', expected an integer in 0..1024"},
        {"latency profile --space " + none + " -o " + d + "/t.yaml --batch 0x10",
         "--batch: found '0x10', expected an integer in 1..65536"},
        {"latency profile --space " + none + " -o " + d + "/t.yaml --warmup -1",
         "--warmup: found '-1', expected an integer in 0..1000000"},
        {"latency check --target " + none + " --space " + none + " --samples 1x",
         "--samples: found '1x', expected an integer in 1..1000000"},
        {"latency check --target " + none + " --space " + none + " --seed abc",
         "--seed: found 'abc', expected an integer in 0..18446744073709551615"},
    };
    for (const Case& c : cases) expect_error(run(c.args), 2, c.want, c.args);
    for (const char* out : {"/f", "/r", "/w", "/s", "/sp.yaml", "/run", "/t.yaml"})
        EXPECT_FALSE(exists(d + out)) << out << ": nothing is written on bad input";
}

// --max-params, --max-mflops and --max-peak-kb of `hwnas search` and `hwnas
// run` are read as search.max_params, max_mflops, max_peak_kb: one error
// line naming the flag, exit 2, nothing written.
TEST(CliNumbers, ConstraintFlagsAreReadLikeTheirConfigKeys) {
    std::string d = test_temp_dir("clinum");
    std::string smoke = kSmoke, none = d + "/none";
    std::string search = "search -c " + smoke + " --supernet " + none + " --target " + none + " -o " + d + "/s ";
    std::string run_cmd = "run -c " + smoke + " -o " + d + "/run --target " + none + " ";
    const std::string ints = "expected an integer in 0..2000000000", nums = "expected a number in [0, 1e+09]";
    struct Case {
        std::string args, want;
    } cases[] = {
        {search + "--max-params -1", "--max-params: found '-1', " + ints},
        {search + "--max-params nan", "--max-params: found 'nan', " + ints},
        {search + "--max-params 1x", "--max-params: found '1x', " + ints},
        {search + "--max-mflops -0.5", "--max-mflops: found '-0.5', " + nums},
        {search + "--max-mflops nan", "--max-mflops: found 'nan', " + nums},
        {search + "--max-peak-kb 1x", "--max-peak-kb: found '1x', " + nums},
        {search + "--max-peak-kb inf", "--max-peak-kb: found 'inf', " + nums},
        {run_cmd + "--max-params 1x", "--max-params: found '1x', " + ints},
        {run_cmd + "--max-mflops nan", "--max-mflops: found 'nan', " + nums},
        {run_cmd + "--max-peak-kb -1", "--max-peak-kb: found '-1', " + nums},
    };
    for (const Case& c : cases) expect_error(run(c.args), 2, c.want, c.args);
    for (const char* out : {"/s", "/run"}) EXPECT_FALSE(exists(d + out)) << out << ": nothing is written on bad input";
    // The flag and --set give the same message after the name.
    std::string a = run(search + "--max-peak-kb 2x").err, b = run(search + "--set search.max_peak_kb=2x").err;
    ASSERT_NE(a.find("--max-peak-kb: "), std::string::npos) << a;
    ASSERT_NE(b.find("search.max_peak_kb: "), std::string::npos) << b;
    EXPECT_EQ(a.substr(a.find("--max-peak-kb: ") + 15), b.substr(b.find("search.max_peak_kb: ") + 20));
}

// A target file's threads and batch reach the device: they are range-checked
// where the file is read, with its name and line.
TEST(CliNumbers, TargetFileThreadsAndBatchAreRangeChecked) {
    TempDir tmp("clinum");
    std::string arch = tmp.write("a.yaml", kArch);
    const char* head = "device: x\nunit: ms\nmethod: measured\nsource: test\n";
    const char* entries = "entries:\n  stem-in:28x28x1-out:14x14x8: {mean: 1}\n";
    struct Case {
        std::string line, want;
    } cases[] = {
        {"threads: 100000\n", ":5: threads: found '100000', expected an integer in 0..1024"},
        {"threads: -1\n", ":5: threads: found '-1', expected an integer in 0..1024"},
        {"batch: 70000\n", ":5: batch: found '70000', expected an integer in 0..65536"},
    };
    for (const Case& c : cases) {
        std::string target = tmp.write("t.yaml", head + c.line + entries);
        Result r = run("latency predict --target " + target + " --arch " + arch + " --space tests/spaces/fmnist-small.yaml");
        expect_error(r, 2, target + c.want, c.line);
    }
}

namespace {

// Offsets in the checkpoint layout (supernet/checkpoint.h).
constexpr size_t kStepAt = 12, kEpochAt = 20, kBatchAt = 24;

// Rewrites one field of a checkpoint and its CRC, as a crafted file would.
void patch_checkpoint(const std::string& path, size_t at, const void* value, size_t bytes) {
    std::string ck = slurp(path);
    ASSERT_GT(ck.size(), 64u);
    std::memcpy(&ck[at], value, bytes);
    uint32_t crc = (uint32_t)crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(ck.data()),
                                   (uInt)(ck.size() - 4));
    std::memcpy(&ck[ck.size() - 4], &crc, 4);
    write(path, ck);
}

}  // namespace

// A checkpoint's step, epoch and batch are checked against the run that
// resumes it (its epochs and batches per epoch) before training starts. The
// smoke config has 16 batches per epoch; its 1-epoch run ends at step 16,
// epoch 1, batch 0.
TEST(CliResume, CheckpointTrainingStateIsChecked) {
    std::string dir = test_temp_dir("clinum");
    std::string train = std::string("train -c ") + kSmoke + " -o ";
    Result r = run(train + dir + "/base");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::string ckpt = slurp(dir + "/base/supernet.ckpt"), config = slurp(dir + "/base/config.yaml");
    int n = 0;
    auto fresh_copy = [&]() {
        std::string d = dir + "/r" + std::to_string(n++);
        mkdir(d.c_str(), 0755);
        write(d + "/supernet.ckpt", ckpt);
        write(d + "/config.yaml", config);
        return d;
    };
    const uint32_t huge_batch = 0xFFFFFFFFu, huge_epoch = 0x7FFFFFFFu;
    const uint64_t huge_step = 1ull << 63;
    struct Case {
        size_t at;
        const void* value;
        size_t bytes;
        const char* extra;
        const char* want;
    } cases[] = {
        {kBatchAt, &huge_batch, 4, " --epochs 2", "batch 4294967295"},
        {kEpochAt, &huge_epoch, 4, " --epochs 2", "epoch 2147483647"},
        {kStepAt, &huge_step, 8, " --epochs 2", "step 9223372036854775808"},
        {0, nullptr, 0, " --epochs 0", "epoch 1, expected at most 0"},
    };
    for (const Case& c : cases) {
        std::string d = fresh_copy();
        if (c.value) patch_checkpoint(d + "/supernet.ckpt", c.at, c.value, c.bytes);
        r = run(train + d + " --resume" + c.extra);
        expect_error(r, 2, d + "/supernet.ckpt: ", c.want);
        EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
        EXPECT_FALSE(exists(d + "/train.csv")) << c.want << ": nothing is written";
        EXPECT_TRUE(slurp(d + "/supernet.ckpt").size() == ckpt.size());
    }
    // Other data (24 batches per epoch): known once the data loader exists,
    // so the error follows the one line that describes the run.
    std::string d = fresh_copy();
    r = run(train + d + " --resume --epochs 2 --set data.limit_train=2048");
    EXPECT_EQ(r.code, 2) << r.err;
    std::string last = r.err.substr(r.err.rfind('\n', r.err.size() - 2) + 1);
    EXPECT_EQ(last.rfind("hwnas: error: " + d + "/supernet.ckpt: checkpoint at step 16, expected 24 ", 0), 0u) << r.err;
    EXPECT_NE(last.find("24 batches per epoch"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(d + "/train.csv"));
    EXPECT_TRUE(slurp(d + "/supernet.ckpt") == ckpt) << "the checkpoint is left as it was";
    // The commands that only read the weights refuse a state no run can reach.
    d = fresh_copy();
    patch_checkpoint(d + "/supernet.ckpt", kEpochAt, &huge_epoch, 4);
    write(d + "/a.yaml", kArch);
    r = run("extract --supernet " + d + "/supernet.ckpt --arch " + d + "/a.yaml -o " + d + "/w.safetensors");
    expect_error(r, 2, d + "/supernet.ckpt: ", "extract");
    EXPECT_NE(r.err.find("epoch 2147483647"), std::string::npos) << r.err;
    EXPECT_FALSE(exists(d + "/w.safetensors"));
    // The untouched checkpoint resumes: one more epoch of 16 steps.
    d = fresh_copy();
    r = run(train + d + " --resume --epochs 2");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("16 steps"), std::string::npos) << r.err;
}

// zlib's crc32 takes a 32-bit length: the checkpoint's CRC is computed in
// pieces, so files of 4 GiB and more load. The buffer is 4 GiB of zero pages
// (mapped, never written, so they take no memory; huge pages where the
// kernel offers them, so reading them is quick) and a tail of 3 bytes.
TEST(CliResume, CheckpointCrcCoversMoreThan4GiB) {
    const size_t four_gib = (size_t)1 << 32, size = four_gib + 3, huge = (size_t)2 << 20;
    const size_t mapped = size + 2 * huge;
    void* map = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(map, MAP_FAILED);
    unsigned char* bytes = reinterpret_cast<unsigned char*>((reinterpret_cast<uintptr_t>(map) + huge - 1) & ~(huge - 1));
    (void)madvise(bytes, size, MADV_HUGEPAGE);  // best effort: only slower without
    std::memcpy(bytes + four_gib, "xyz", 3);
    // The CRC of 2^32 zero bytes by doubling: crc(2n zeros) = combine(crc(n), crc(n), n).
    std::vector<unsigned char> zeros((size_t)1 << 20, 0);
    uLong crc = crc32(crc32(0, nullptr, 0), zeros.data(), (uInt)zeros.size());
    for (size_t len = zeros.size(); len < four_gib; len *= 2) crc = crc32_combine(crc, crc, (z_off_t)len);
    uLong tail = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>("xyz"), 3);
    uint32_t want = (uint32_t)crc32_combine(crc, tail, 3);
    EXPECT_EQ(checkpoint_crc32(bytes, size), want);
    EXPECT_EQ(checkpoint_crc32(bytes + four_gib, 3), (uint32_t)tail);
    munmap(map, mapped);
}

// A preemption wrapper always passes --resume: before the first checkpoint
// (none yet, or only a torn temporary file of a killed save) the run starts
// from the beginning and says so in one line.
TEST(CliResume, ResumeWithoutACheckpointStartsFromTheBeginning) {
    std::string dir = test_temp_dir("clinum");
    std::string run_dir = dir + "/new/run";
    Result r = run(std::string("train -c ") + kSmoke + " -o " + run_dir + " --resume");
    ASSERT_EQ(r.code, 0) << r.err;
    std::string line = "no checkpoint in " + run_dir + " yet: starting from the beginning\n";
    EXPECT_NE(r.err.find(line), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find(line), r.err.rfind(line)) << "said once";
    EXPECT_TRUE(exists(run_dir + "/supernet.ckpt"));
    // Killed before its first checkpoint: a log of 3 steps and a torn temporary file.
    std::string killed = dir + "/killed";
    mkdir(killed.c_str(), 0755);
    write(killed + "/train.csv", "step,epoch,lr,loss,top1,images_per_s,seconds\n1,1,0.1,2.3,0.1,1,1\n2,1,0.1,2.3,0.1,1,1\n");
    write(killed + "/supernet.ckpt.tmp", "HWNASCK");
    r = run(std::string("train -c ") + kSmoke + " -o " + killed + " --resume");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("no checkpoint in " + killed + " yet: starting from the beginning"), std::string::npos) << r.err;
    std::string csv = slurp(killed + "/train.csv");
    int rows = 0;
    for (char c : csv) rows += c == '\n';
    EXPECT_EQ(rows, 17) << "the header and the 16 steps of the new run\n" << csv;
    EXPECT_EQ(slurp(killed + "/supernet.ckpt"), slurp(run_dir + "/supernet.ckpt")) << "the same run as a fresh one";
    // retrain (and finetune) take --resume the same way.
    write(dir + "/a.yaml", kArch);
    r = run(std::string("retrain -c ") + kSmoke + " --arch " + dir + "/a.yaml -o " + dir + "/rt --resume");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("no checkpoint in " + dir + "/rt yet: starting from the beginning"), std::string::npos) << r.err;
}

namespace {

std::string written(const char* s) {
    char* buf = nullptr;
    size_t len = 0;
    FILE* fp = open_memstream(&buf, &len);
    yaml_write_string(fp, s);
    fclose(fp);
    std::string out(buf, len);
    free(buf);
    return out;
}

}  // namespace

// U+0085 (NEL), U+2028 and U+2029 are line breaks to a YAML reader and C1
// controls are not printable: written raw they change or lose the value.
TEST(CliYaml, WriterEscapesUnicodeLineBreaksAndControls) {
    const char* cases[] = {"a\xc2\x85z",     "\xc2\x85",         "a\xe2\x80\xa8z", "a\xe2\x80\xa9z",
                           "\xe2\x80\xa8",   "x \xe2\x80\xa9 y", "a\xc2\x80z",     "a\xc2\x9fz",
                           "\xef\xbb\xbfz",  "a\xef\xbb\xbfz",   "caf\xc3\xa9 \xe2\x80\xa6",
                           "/runs/t\nx.yaml", "line\xe2\x80\xa8" "break\xc2\x85" "next"};
    for (const char* s : cases) {
        std::string w = written(s);
        std::string doc = "k: " + w + "\nseq:\n  - " + w + "\n" + w + ": 1\nflow: [" + w + "]\n";
        HwErr err = {{0}, 0};
        YamlDoc* d = yaml_load_string(doc.c_str(), "w.yaml", &err);
        ASSERT_NE(d, nullptr) << doc << "\n" << err.msg;
        EXPECT_STREQ(yaml_get(d->root, "k")->scalar, s) << doc;
        EXPECT_STREQ(yaml_get(d->root, "seq")->items[0]->scalar, s) << doc;
        EXPECT_STREQ(d->root->keys[2], s) << doc;
        EXPECT_STREQ(yaml_get(d->root, "flow")->items[0]->scalar, s) << doc;
        yaml_free(d);
        for (const char* raw : {"\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9", "\n"})
            EXPECT_EQ(w.find(raw), std::string::npos) << "a raw line break in " << w;
    }
    EXPECT_EQ(written("a\xe2\x80\xa8z"), "\"a\\Lz\"");
    EXPECT_EQ(written("a\xc2\x85z"), "\"a\\Nz\"");
    EXPECT_EQ(written("caf\xc3\xa9"), "caf\xc3\xa9") << "other text stays as it is";
    // The resolved config round-trips such paths.
    TempDir tmp("clinum");
    Config cfg, back;
    config_defaults(&cfg);
    std::snprintf(cfg.data.root, sizeof cfg.data.root, "/data/a\xe2\x80\xa8" "b");
    cfg.target.kind = TARGET_FILE;
    std::snprintf(cfg.target.file, sizeof cfg.target.file, "/targets/t\xc2\x85x.yaml");
    HwErr err = {{0}, 0};
    std::string path = tmp.file("config.yaml");
    ASSERT_EQ(config_write(&cfg, path.c_str(), &err), 0) << err.msg;
    config_defaults(&back);
    ASSERT_EQ(config_load(&back, path.c_str(), &err), 0) << err.msg;
    EXPECT_STREQ(back.data.root, cfg.data.root);
    EXPECT_EQ(back.target.kind, TARGET_FILE);
    EXPECT_STREQ(back.target.file, cfg.target.file);
}

// `hwnas space --target PATH` names PATH in a comment of the space it
// writes: a newline in it must not end the comment.
TEST(CliYaml, NewlineInTargetPathKeepsTheSpaceValid) {
    std::string dir = test_temp_dir("clinum");
    std::string target = dir + "/t\nruns: x.yaml";
    Result r = run_args({"latency", "profile", "--space", "tests/spaces/fmnist-small.yaml", "-o", target, "--threads",
                         "1", "--warmup", "0"});
    ASSERT_EQ(r.code, 0) << r.err;
    std::string out = dir + "/space.yaml";
    r = run_args({"space", "-c", kSmoke, "--target", target, "-o", out});
    ASSERT_EQ(r.code, 0) << r.err;
    Space s;
    HwErr err = {{0}, 0};
    EXPECT_EQ(space_load(&s, out.c_str(), &err), 0) << err.msg << "\n" << slurp(out);
    EXPECT_NE(slurp(out).find("t\\nruns: x.yaml"), std::string::npos) << slurp(out);
}
