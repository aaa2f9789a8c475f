// Writes that hostile directories and full disks cannot subvert (issue 16,
// findings 5, 6, 7 and 11): no write follows a planted symbolic link, an
// output directory that is a link is refused unless allowed, a long path is
// never cut into another file's name, every write error is one error line
// naming the file (exit 1), and an architecture's `space:` name cannot reach
// files outside configs/spaces/.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "search/search_csv.h"
#include "test_util.h"

namespace {

const char kPrecious[] = "precious: not hwnas's to overwrite\n";

std::string bin() {
    const char* b = std::getenv("HWNAS_BIN");
    return b ? b : "build/hwnas";
}

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void put(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

struct Result {
    int code;
    std::string out, err;
};

// Runs `hwnas ARGS` through sh with `env` prepended (VAR=value ...). With
// fsize_limit > 0 the child may not write any file past that many bytes
// (RLIMIT_FSIZE, SIGXFSZ ignored), so a write fails with EFBIG the way it
// fails on a full disk.
Result run(const std::string& args, const std::string& env = "", long fsize_limit = 0) {
    std::string dir = test_temp_dir("safe_run");
    std::string cmd = env + " exec " + bin() + " " + args + " >" + dir + "/out 2>" + dir + "/err";
    pid_t pid = fork();
    if (pid < 0) return {-1, "", "fork failed"};
    if (pid == 0) {
        if (fsize_limit > 0) {
            struct rlimit lim = {(rlim_t)fsize_limit, (rlim_t)fsize_limit};
            signal(SIGXFSZ, SIG_IGN);  // ignored signals stay ignored across exec
            setrlimit(RLIMIT_FSIZE, &lim);
        }
        execl("/bin/sh", "sh", "-c", cmd.c_str(), (char*)nullptr);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/out"), slurp(dir + "/err")};
}

// One error line, `hwnas: error: ...`, containing `needle`.
void expect_error(const Result& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    EXPECT_EQ(r.err.rfind("hwnas: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << "expected '" << needle << "' in: " << r.err;
    EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "more than one line: " << r.err;
}

// A command that reports progress on stderr, then fails: its last line is
// the one error line, `hwnas: error: ...` containing `needle`.
void expect_final_error(const Result& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    size_t at = r.err.find("hwnas: error: ");
    ASSERT_NE(at, std::string::npos) << r.err;
    EXPECT_TRUE(at == 0 || r.err[at - 1] == '\n') << r.err;
    std::string line = r.err.substr(at);
    EXPECT_NE(line.find(needle), std::string::npos) << "expected '" << needle << "' in: " << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
}

bool is_regular(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool exists(const std::string& path) {
    struct stat st;
    return lstat(path.c_str(), &st) == 0;
}

// Plants DIR/NAME as a symbolic link to a fresh victim file; returns the victim.
std::string plant_link(const std::string& dir, const std::string& name, const std::string& victims) {
    std::string victim = victims + "/victim-" + name;
    put(victim, kPrecious);
    EXPECT_EQ(symlink(victim.c_str(), (dir + "/" + name).c_str()), 0) << name << ": " << std::strerror(errno);
    return victim;
}

// A file hwnas must not have written (binary contents are not printed).
void expect_untouched(const std::string& path) {
    std::string now = slurp(path);
    EXPECT_TRUE(now == kPrecious) << path << " was written through a link or under a cut-off name: now " << now.size()
                                  << " bytes";
}

// A /dev/full node at `path` (needs root, as mknod does): writes to it fail
// with ENOSPC, as on a full disk. False when it cannot be made.
bool make_full_device(const std::string& path) {
    return mknod(path.c_str(), S_IFCHR | 0666, makedev(1, 7)) == 0;
}

// The smoke config shrunk to one short pass of every phase.
const char kQuickRun[] =
    "run --quick -c tests/configs/smoke.yaml --set data.limit_train=1536 --set data.holdout=512 "
    "--set data.limit_test=512 --set train.epochs=1 --set stages.stage1_epochs=1 --set stages.stage2_epochs=1 "
    "--set search.population=8 --set search.parents=3 --set search.iterations=2 --set search.mutations=4 "
    "--set search.crossovers=4 --set search.bn_images=128 --set search.val_images=256 --set finetune.epochs=1 -o ";

}  // namespace

// ---------------------------------------------------------------- finding 5: links

// supernet.ckpt.tmp, train.csv and the CSV rewrite temp of a resumed run,
// each a link to someone else's file: training replaces the links with its
// own files and leaves the victims alone.
TEST(SafeWrites, TrainNeverWritesThroughPlantedLinks) {
    std::string dir = test_temp_dir("safe_train"), run_dir = dir + "/run";
    ASSERT_EQ(mkdir(run_dir.c_str(), 0755), 0);
    std::vector<std::string> victims;
    for (const char* name : {"train.csv", "supernet.ckpt.tmp"}) victims.push_back(plant_link(run_dir, name, dir));
    Result r = run("train -c tests/configs/smoke.yaml -o " + run_dir);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const std::string& v : victims) expect_untouched(v);
    EXPECT_TRUE(is_regular(run_dir + "/train.csv"));
    EXPECT_TRUE(is_regular(run_dir + "/supernet.ckpt"));
    EXPECT_NE(slurp(run_dir + "/train.csv").find("step,epoch,lr"), std::string::npos);
    // --resume rewrites train.csv to the checkpoint's step: its temporary
    // file must not be a name someone can plant.
    std::string victim = plant_link(run_dir, "train.csv.tmp", dir);
    r = run("train -c tests/configs/smoke.yaml --set train.epochs=2 --resume -o " + run_dir);
    ASSERT_EQ(r.code, 0) << r.err;
    expect_untouched(victim);
    EXPECT_TRUE(is_regular(run_dir + "/train.csv"));
    int rows = 0;
    for (char c : slurp(run_dir + "/train.csv")) rows += c == '\n';
    EXPECT_EQ(rows, 1 + 2 * 16) << "header and one row per step of both epochs";
}

// The whole pipeline with links planted at the names it writes, then two
// more runs of the finished directory: a plot that cannot be written and a
// report on a full disk are errors (finding 7), not a successful exit.
TEST(SafeWrites, RunNeverWritesThroughLinksAndReportsItsWriteErrors) {
    std::string dir = test_temp_dir("safe_pipe"), run_dir = dir + "/run";
    ASSERT_EQ(mkdir(run_dir.c_str(), 0755), 0);
    std::vector<std::string> victims;
    for (const char* name : {"report.md", "pareto.svg", "train.svg", "train-stage1.csv", "finetune.csv",
                             "stage1.ckpt.tmp", "finetune.ckpt.tmp", "best.safetensors.tmp",
                             "best-inherited.safetensors.tmp"})
        victims.push_back(plant_link(run_dir, name, dir));
    Result r = run(kQuickRun + run_dir);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const std::string& v : victims) expect_untouched(v);
    for (const char* name : {"report.md", "pareto.svg", "train.svg", "train-stage1.csv", "finetune.csv",
                             "stage1.ckpt", "finetune.ckpt", "best.safetensors", "best-inherited.safetensors"})
        EXPECT_TRUE(is_regular(run_dir + "/" + name)) << name;
    EXPECT_NE(slurp(run_dir + "/pareto.svg").find("</svg>"), std::string::npos);

    // A plot that cannot be written (a directory has its name).
    ASSERT_EQ(unlink((run_dir + "/pareto.svg").c_str()), 0);
    ASSERT_EQ(mkdir((run_dir + "/pareto.svg").c_str(), 0755), 0);
    expect_final_error(run(kQuickRun + run_dir), 1, run_dir + "/pareto.svg: is a directory");
    ASSERT_EQ(rmdir((run_dir + "/pareto.svg").c_str()), 0);

    // report.md on a full disk: the writes succeed into the buffer and only
    // the flush at the end fails.
    ASSERT_EQ(unlink((run_dir + "/report.md").c_str()), 0);
    if (!make_full_device(run_dir + "/report.md")) {
        std::printf("    (report.md on a full disk not tried: mknod needs root)\n");
        return;
    }
    expect_final_error(run(kQuickRun + run_dir), 1, run_dir + "/report.md: write failed: No space left on device");
}

// bench.csv and bench.md of `hwnas bench pipeline`, planted as links.
TEST(SafeWrites, BenchPipelineNeverWritesThroughPlantedLinks) {
    std::string dir = test_temp_dir("safe_bench"), out = dir + "/b";
    ASSERT_EQ(mkdir(out.c_str(), 0755), 0);
    std::vector<std::string> victims;
    for (const char* name : {"bench.csv", "bench.md"}) victims.push_back(plant_link(out, name, dir));
    Result r = run("bench pipeline -c tests/configs/smoke.yaml --set data.limit_train=1024 --set data.holdout=512 "
                   "--set stages.stage1_epochs=1 --set stages.stage2_epochs=1 --short 1,1 -o " + out);
    ASSERT_EQ(r.code, 0) << r.err;
    for (const std::string& v : victims) expect_untouched(v);
    EXPECT_TRUE(is_regular(out + "/bench.csv"));
    EXPECT_TRUE(is_regular(out + "/bench.md"));
    EXPECT_EQ(slurp(out + "/bench.csv").rfind("method,epochs,train_seconds", 0), 0u);
}

// search.csv is appended row by row (never renamed): a link there is refused.
TEST(SafeWrites, SearchCsvAppendRefusesALink) {
    TempDir tmp("safe_csv");
    std::string victim = tmp.write("victim.csv", kPrecious), link = tmp / "search.csv";
    ASSERT_EQ(symlink(victim.c_str(), link.c_str()), 0);
    static const char* layer[] = {"mb_k3_e3", "skip"};
    static const char* const* names_of[] = {layer};
    static const int n_ops[] = {2};
    SearchNames names = {1, n_ops, names_of};
    Candidate c;
    std::memset(&c, 0, sizeof c);
    c.latency_ms = 1.5, c.top1 = 0.5, c.top5 = 0.9, c.generation = -1;
    std::strcpy(c.origin, "random");
    HwErr err = {{0}, 0};
    EXPECT_EQ(search_csv_append(link.c_str(), &c, &names, &err), -1) << "appended through a link";
    expect_untouched(victim);
    EXPECT_NE(std::string(err.msg).find("search.csv"), std::string::npos) << err.msg;
    EXPECT_NE(std::string(err.msg).find("symbolic link"), std::string::npos) << err.msg;
    // A regular file is appended to as before.
    std::string plain = tmp / "plain.csv";
    ASSERT_EQ(search_csv_append(plain.c_str(), &c, &names, &err), 0) << err.msg;
    EXPECT_EQ(slurp(plain), std::string(SEARCH_CSV_HEADER) + "\nmb_k3_e3,1.5,0.5,0.90000000000000002,-1,random,0,0,0\n");
}

// `-o LINK` where LINK points at another directory: refused with one line
// and exit 2, nothing written there; HWNAS_ALLOW_SYMLINK_OUTPUT=1 allows it.
TEST(SafeWrites, OutputDirectoryThatIsALinkIsRefusedUnlessAllowed) {
    std::string dir = test_temp_dir("safe_outlink"), elsewhere = dir + "/elsewhere", link = dir + "/link";
    ASSERT_EQ(mkdir(elsewhere.c_str(), 0755), 0);
    ASSERT_EQ(symlink(elsewhere.c_str(), link.c_str()), 0);
    for (const std::string& out : {link, link + "/"}) {
        Result r = run("train -c tests/configs/smoke.yaml -o " + out);
        expect_error(r, 2, "symbolic link");
        EXPECT_NE(r.err.find("HWNAS_ALLOW_SYMLINK_OUTPUT=1"), std::string::npos) << r.err;
        EXPECT_FALSE(exists(elsewhere + "/config.yaml")) << "written through " << out;
    }
    expect_error(run("search -c tests/configs/smoke.yaml --supernet x.ckpt --target t.yaml --latency-ms 1 -o " + link),
                 2, "symbolic link");
    Result r = run("train -c tests/configs/smoke.yaml -o " + link, "HWNAS_ALLOW_SYMLINK_OUTPUT=1");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(is_regular(elsewhere + "/supernet.ckpt"));
    EXPECT_NE(run("train --help").out.find("HWNAS_ALLOW_SYMLINK_OUTPUT"), std::string::npos);
}

// ---------------------------------------------------------------- finding 6: long paths

// A directory path of `length` characters under base (components of at most
// 200 characters).
std::string long_dir(const std::string& base, size_t length) {
    std::string path = base;
    while (path.size() < length) {
        size_t part = std::min<size_t>(200, length - path.size() - 1);
        path += "/" + std::string(part ? part : 1, 'd');
        EXPECT_TRUE(mkdir(path.c_str(), 0755) == 0 || errno == EEXIST) << path.size();
    }
    return path;
}

// Paths near the old 1,024 and 1,100 character buffers: the weights, the
// checkpoint and the log keep their names, and a file whose name is a cut-off
// prefix of theirs is not touched.
TEST(SafeWrites, LongPathsNeverBecomeAnotherFilesName) {
    std::string base = test_temp_dir("safe_long");
    std::string run_dir = long_dir(base, 1016), arch = base + "/a.yaml";
    ASSERT_EQ(run_dir.size(), 1016u);
    put(arch, "space: fmnist-small\nops: [mb_k3_e3, skip, sep_k3]\n");
    Result r = run("train -c tests/configs/smoke.yaml -o " + base + "/sn");
    ASSERT_EQ(r.code, 0) << r.err;
    // extract -o with 1,097 characters: "%s.tmp" in 1,100 bytes was "%s.t".
    std::string weights = run_dir + "/" + std::string(1097 - run_dir.size() - 1 - 12, 'w') + ".safetensors";
    ASSERT_EQ(weights.size(), 1097u);
    put(weights + ".t", kPrecious);
    r = run("extract --supernet " + base + "/sn/supernet.ckpt --arch " + arch + " -o " + weights);
    EXPECT_EQ(r.code, 0) << r.err;
    expect_untouched(weights + ".t");
    EXPECT_TRUE(is_regular(weights));
    // retrain's checkpoint and log in a 1,016-character directory: a
    // 1,024-byte buffer kept ".../subnet" and ".../train.". (retrain writes no
    // config.yaml, whose own 520-character limit stopped `train` earlier.)
    std::vector<std::string> bystanders;
    for (const char* name : {"/subnet.ckpt", "/train.csv"}) {
        bystanders.push_back((run_dir + name).substr(0, 1023));
        put(bystanders.back(), kPrecious);
    }
    r = run("retrain -c tests/configs/smoke.yaml --arch " + arch + " -o " + run_dir);
    EXPECT_EQ(r.code, 0) << r.err;
    for (const std::string& b : bystanders) expect_untouched(b);
    for (const char* name : {"/subnet.ckpt", "/train.csv", "/subnet.safetensors"})
        EXPECT_TRUE(is_regular(run_dir + name)) << name;
    // A path longer than any buffer: one clear line, nothing written.
    std::string too_long = run_dir;
    while (too_long.size() <= 4096) too_long += "/" + std::string(200, 'x');
    expect_error(run("extract --supernet " + base + "/sn/supernet.ckpt --arch " + arch + " -o " + too_long), 2,
                 "path too long");
}

// ---------------------------------------------------------------- finding 7: write errors

// train.csv cannot grow past 4 KiB (as on a full disk) while config.yaml
// fits: training stops with one line naming the log instead of losing it.
TEST(SafeWrites, TrainLogWriteErrorStopsTraining) {
    std::string dir = test_temp_dir("safe_fsize");
    Result r = run("train -c tests/configs/smoke.yaml --set train.batch=8 -o " + dir + "/run", "", 4096);
    expect_final_error(r, 1, dir + "/run/train.csv: write failed: File too large");
}

// Outputs named on the command line, pointed at /dev/full.
TEST(SafeWrites, NamedOutputsOnAFullDiskAreErrors) {
    expect_error(run("bench train --space tests/spaces/fmnist-small.yaml --batch 4 --steps 2 --warmup 0 --threads 1 "
                     "--paths-out /dev/full"),
                 1, "/dev/full: write failed: No space left on device");
    TempDir tmp("safe_full");
    Result r = run("latency profile --space tests/spaces/fmnist-small.yaml --threads 1 -o " + tmp / "cpu.yaml");
    ASSERT_EQ(r.code, 0) << r.err;
    expect_error(run("latency check --target " + tmp / "cpu.yaml" +
                     " --space tests/spaces/fmnist-small.yaml --samples 2 --threads 1 --csv /dev/full"),
                 1, "/dev/full: write failed: No space left on device");
}

// ---------------------------------------------------------------- finding 11: space names

// `space: ../../x` in an architecture would open x.yaml anywhere and quote
// it in the error; a space name is a plain name under configs/spaces/.
TEST(SafeWrites, ArchSpaceNameCannotLeaveTheSpacesDirectory) {
    TempDir tmp("safe_space");
    tmp.write("secret.yaml", "hunter2-password: 1\n");
    // From configs/spaces/ up to the root (names are at most 63 characters).
    char cwd[4096];
    ASSERT_NE(getcwd(cwd, sizeof cwd), nullptr);
    std::string up = "../../";
    for (const char* c = cwd; *c; c++) up += *c == '/' ? "../" : "";
    std::string escape = up + tmp.path.substr(1) + "/secret";
    ASSERT_LT(escape.size(), 64u) << escape;
    for (const std::string& name : {escape, std::string("/etc/passwd"), std::string(".hidden"),
                                    std::string("sub/dir")}) {
        tmp.write("a.yaml", "space: \"" + name + "\"\nops: [skip]\n");
        Result r = run("latency predict --target " + tmp / "t.yaml" + " --arch " + tmp / "a.yaml");
        expect_error(r, 2, tmp / "a.yaml");
        EXPECT_NE(r.err.find("plain space name"), std::string::npos) << r.err;
        EXPECT_EQ(r.err.find("hunter2"), std::string::npos) << "a foreign file was read: " << r.err;
    }
    // A plain name still finds configs/spaces/NAME.yaml (one that does not exist: named, nothing read).
    tmp.write("a.yaml", "space: no-such-space_1.0\nops: [skip]\n");
    expect_error(run("latency predict --target " + tmp / "t.yaml" + " --arch " + tmp / "a.yaml"), 2,
                 "configs/spaces/no-such-space_1.0.yaml");
}
