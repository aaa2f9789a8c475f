// Disk full and read-only run directories (issue 16, part 4): a checkpoint
// that cannot be written is one error line naming it, the previous
// checkpoint stays byte for byte, and nothing is left behind, neither a
// partial file under the real name nor a temporary file.
//
// The full disk is a real one where the machine allows it: a small tmpfs
// mounted in a private mount namespace (`unshare -m` as root, `unshare -rm`
// in a user namespace otherwise), so writes fail with ENOSPC exactly as on a
// full disk, fsync and all. Where namespaces are not allowed (some CI
// containers) the same run goes under RLIMIT_FSIZE with SIGXFSZ ignored: a
// write past the limit fails with EFBIG through the same write path. An
// LD_PRELOAD shim of write() would not do: glibc's stdio writes through its
// internal __write, which no preloaded library can intercept.
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_run.h"
#include "test_util.h"

namespace {

using cli::exists;
using cli::slurp;

const char kTrain[] = "train -c tests/configs/smoke.yaml --set train.threads=1 ";

// Every name in `dir` but . and ..
std::vector<std::string> names_in(const std::string& dir) {
    std::vector<std::string> found;
    DIR* d = opendir(dir.c_str());
    if (!d) return found;
    while (struct dirent* e = readdir(d))
        if (std::string(e->d_name) != "." && std::string(e->d_name) != "..") found.push_back(e->d_name);
    closedir(d);
    return found;
}

std::string joined(const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += x + " ";
    return s;
}

// The last line of stderr: one `hwnas: error: ...` line containing needle.
void expect_final_error(const cli::Result& r, int code, const std::string& needle) {
    EXPECT_EQ(r.code, code) << r.err;
    size_t at = r.err.find("hwnas: error: ");
    ASSERT_NE(at, std::string::npos) << r.err;
    std::string line = r.err.substr(at);
    EXPECT_NE(line.find(needle), std::string::npos) << "expected '" << needle << "' in: " << line;
    EXPECT_EQ(line.find('\n'), line.size() - 1) << "more than one line: " << line;
}

// How to enter a private mount namespace here, or "" when none is allowed
// (or HWNAS_TEST_NO_MOUNT_NS is set, to try the RLIMIT_FSIZE way here).
std::string unshare_prefix(const std::string& probe_dir) {
    if (std::getenv("HWNAS_TEST_NO_MOUNT_NS")) return "";
    for (const char* u : {"unshare -m", "unshare -rm"}) {
        std::string cmd = std::string(u) + " sh -c 'mount -t tmpfs -o size=4k tmpfs " + probe_dir +
                          "' >/dev/null 2>&1";
        if (std::system(cmd.c_str()) == 0) return u;
    }
    return "";
}

// A one-epoch run: the checkpoint a failing run must leave as it was.
std::string trained_run(const std::string& dir) {
    cli::Result r = cli::run(kTrain + std::string("-o ") + dir, dir + ".log");
    EXPECT_EQ(r.code, 0) << r.err;
    return slurp(dir + "/supernet.ckpt");
}

}  // namespace

// A second epoch on a disk with room for the run's files but not for a
// second copy of the checkpoint.
TEST(DiskFull, CheckpointOnAFullDiskKeepsThePreviousOne) {
    std::string dir = test_temp_dir("disk_full"), prev = dir + "/prev", run = dir + "/run";
    std::string ckpt = trained_run(prev);
    ASSERT_GT(ckpt.size(), 64u * 1024) << "the checkpoint must outgrow the spare room below";
    std::string resume = kTrain + std::string("--set train.epochs=2 --resume -o ") + run;
    ASSERT_EQ(mkdir((dir + "/probe").c_str(), 0755), 0);
    std::string ns = unshare_prefix(dir + "/probe");
    cli::Result r;
    if (!ns.empty()) {
        // tmpfs: the run's files and 64 KiB to spare (config.yaml and train.csv
        // are rewritten through temporary files), not another checkpoint.
        ASSERT_EQ(mkdir(run.c_str(), 0755), 0);
        size_t pages = (ckpt.size() + 4095) / 4096 + 16;
        std::string script = "mount -t tmpfs -o size=" + std::to_string(pages * 4) + "k tmpfs " + run +
                             " || exit 99; cp -p " + prev + "/* " + run + "/ || exit 98; " + cli::bin() + " " +
                             resume + " >" + dir + "/full.out 2>" + dir + "/full.err; code=$?; mkdir " + dir +
                             "/after && cp -a " + run + "/. " + dir + "/after/ && exit $code";
        std::FILE* f = std::fopen((dir + "/full.sh").c_str(), "w");
        ASSERT_NE(f, nullptr);
        std::fputs(script.c_str(), f);
        std::fclose(f);
        int status = std::system((ns + " sh " + dir + "/full.sh").c_str());
        r = {WIFEXITED(status) ? WEXITSTATUS(status) : -1, "", slurp(dir + "/full.err")};
        ASSERT_LT(r.code, 98) << "could not set up the tmpfs: " << r.err;
        run = dir + "/after";  // what the tmpfs held when hwnas exited
        expect_final_error(r, 1, "supernet.ckpt: write failed: No space left on device");
    } else {
        std::printf("[ note ] no mount namespace here: a full disk simulated with RLIMIT_FSIZE (EFBIG)\n");
        std::string copy = "mkdir -p " + run + " && cp -p " + prev + "/* " + run + "/";
        ASSERT_EQ(std::system(copy.c_str()), 0);
        cli::Spawn lim;
        lim.fsize_limit = (long)ckpt.size() - 1;
        r = cli::run(resume, dir + "/full", lim);
        expect_final_error(r, 1, "supernet.ckpt: write failed: File too large");
    }
    EXPECT_TRUE(slurp(run + "/supernet.ckpt") == ckpt) << "the previous checkpoint changed";
    std::vector<std::string> names = names_in(run);
    EXPECT_EQ(names.size(), 3u) << "expected config.yaml, supernet.ckpt and train.csv, found " << joined(names);
}

// A run directory nobody may write: the resumed run stops before writing
// anything, with one line naming the file it could not create. Root is not
// stopped by permission bits, so as root the run is made as `nobody`.
TEST(DiskFull, ReadOnlyRunDirectoryKeepsTheCheckpoint) {
    std::string dir = test_temp_dir("read_only"), run = dir + "/run";
    std::string ckpt = trained_run(run);
    ASSERT_FALSE(ckpt.empty());
    std::vector<std::string> before = names_in(run);
    cli::Spawn opt;
    std::string logs = dir + "/logs";  // where the run's shell writes its stdout and stderr
    ASSERT_EQ(mkdir(logs.c_str(), 0777), 0);
    if (geteuid() == 0) {
        opt.as_user = 65534;
        // mkdtemp's 0700 would hide the run from nobody; the logs are nobody's to write.
        ASSERT_EQ(chmod(dir.c_str(), 0755), 0);
        ASSERT_EQ(chmod(logs.c_str(), 0777), 0);
    }
    // `nobody` must be able to run hwnas on the test's files at all.
    cli::Result probe = cli::run(kTrain + std::string("--help"), logs + "/probe", opt);
    if (probe.code != 0)
        GTEST_SKIP() << "running as root, and user nobody cannot run " << cli::bin()
                     << " here, so no directory can be made read-only to it: " << probe.err;
    ASSERT_EQ(chmod(run.c_str(), 0555), 0);
    cli::Result r = cli::run(kTrain + std::string("--set train.epochs=2 --resume -o ") + run, logs + "/ro", opt);
    chmod(run.c_str(), 0755);
    expect_final_error(r, 1, run + "/config.yaml: cannot create a temporary file next to it: Permission denied");
    EXPECT_TRUE(slurp(run + "/supernet.ckpt") == ckpt) << "the previous checkpoint changed";
    EXPECT_EQ(joined(names_in(run)), joined(before));
}
