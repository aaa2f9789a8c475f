// A run directory works as it is (supernet/run_dir.h): from any working
// directory, after it is moved, given alone to eval, extract, finetune,
// retrain and latency predict; and every command example of README.md runs.
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

using hwtest::Result;
using hwtest::run;
using hwtest::slurp;

namespace {

// A made-up latency table of fmnist-small.
const char* kTableFile = "tests/targets/fmnist-small.yaml";

// One quick `hwnas run`, started in its own directory BASE with a relative
// `-o run` (as a user types it), shared by the tests of this file. BASE/cfg.yaml
// is the smoke config with an absolute space path; BASE/t.yaml the table.
struct QuickRun {
    std::string base, dir, config, table, log;
    bool ok = false;
};

const QuickRun& quick_run() {
    static QuickRun q;
    static bool done = false;
    if (done) return q;
    done = true;
    q.base = test_temp_dir("run_dir");
    q.dir = q.base + "/run";
    q.config = q.base + "/cfg.yaml";
    q.table = q.base + "/t.yaml";
    std::string smoke = slurp("tests/configs/smoke.yaml");
    std::string rel = "space: tests/spaces/fmnist-small.yaml";
    size_t at = smoke.find(rel);
    if (at == std::string::npos) return q;
    smoke.replace(at, rel.size(), "space: " + hwtest::repo_root() + "/tests/spaces/fmnist-small.yaml");
    std::ofstream(q.config) << smoke << "stages:\n  stage1_epochs: 1\n  stage2_epochs: 1\n";
    std::ofstream(q.table) << slurp(kTableFile);
    Result r = run("run -c cfg.yaml --target t.yaml --no-random-baseline -o run", q.base);
    q.log = r.err;
    q.ok = r.code == 0;
    return q;
}

std::string shell_quote(const std::string& s) { return "'" + s + "'"; }

}  // namespace

// The README's example with the pool's config and the run's best.yaml: the
// architecture names its space file, so the space matches (before: "space:
// found 'fmnist-small-target', expected 'fmnist-small'").
TEST(RunDir, EvalWithThePoolConfigUsesTheArchitecturesSpace) {
    const QuickRun& q = quick_run();
    ASSERT_TRUE(q.ok) << q.log;
    EXPECT_NE(slurp(q.dir + "/best.yaml").find("\nspace_file: space.yaml\n"), std::string::npos)
        << slurp(q.dir + "/best.yaml");
    Result r = run("eval -c tests/configs/smoke.yaml --arch " + q.dir + "/best.yaml --weights " + q.dir +
                   "/best.safetensors");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("top1 ", 0), 0u) << r.out;
}

// config.yaml names the run's space relative to itself: eval with it works
// from another working directory (before: "run/space.yaml: cannot open"),
// and after the run directory is moved.
TEST(RunDir, ConfigWorksFromAnyDirectoryAndAfterAMove) {
    const QuickRun& q = quick_run();
    ASSERT_TRUE(q.ok) << q.log;
    EXPECT_NE(slurp(q.dir + "/config.yaml").find("\nspace: space.yaml\n"), std::string::npos)
        << slurp(q.dir + "/config.yaml");
    std::string elsewhere = test_temp_dir("run_dir_cwd");
    Result r = run("eval -c " + q.dir + "/config.yaml --arch " + q.dir + "/best.yaml --weights " + q.dir +
                   "/best.safetensors", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    std::string first = r.out;
    std::string moved = test_temp_dir("run_dir_moved") + "/moved";
    ASSERT_EQ(std::system(("cp -r " + shell_quote(q.dir) + " " + shell_quote(moved)).c_str()), 0);
    // The original's space file is gone for this copy to find.
    r = run("eval -c " + moved + "/config.yaml --arch " + moved + "/best.yaml --weights " + moved +
            "/best.safetensors", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, first) << "the same weights on the same test images";
}

// latency predict finds the space the architecture names, without --space,
// from any directory (before: "configs/spaces/fmnist-small-target.yaml:
// cannot open"); given the run directory alone as well.
TEST(RunDir, LatencyPredictFindsTheSpaceOfTheArchitecture) {
    const QuickRun& q = quick_run();
    ASSERT_TRUE(q.ok) << q.log;
    std::string elsewhere = test_temp_dir("run_dir_cwd");
    Result r = run("latency predict --target " + q.table + " --arch " + q.dir + "/best.yaml", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    Result by_dir = run("latency predict --target " + q.table + " --arch " + q.dir, elsewhere);
    ASSERT_EQ(by_dir.code, 0) << by_dir.err;
    EXPECT_EQ(by_dir.out, r.out);
    // The prediction is the one best.yaml records.
    std::string best = slurp(q.dir + "/best.yaml");
    size_t at = best.find("\nlatency_ms: ");
    ASSERT_NE(at, std::string::npos) << best;
    EXPECT_NEAR(std::atof(r.out.c_str()), std::atof(best.c_str() + at + 13), 1e-4) << r.out;
}

// An architecture file may come from anywhere: its space_file names a file
// beside it, nothing else.
TEST(RunDir, SpaceFileMustBeAPlainName) {
    std::string dir = test_temp_dir("run_dir_arch");
    std::ofstream(dir + "/a.yaml") << "space: fmnist-small\nspace_file: ../x.yaml\nops: [sep_k5, skip, sep_k3]\n";
    std::ofstream(dir + "/t.yaml") << slurp(kTableFile);
    Result r = run("latency predict --target " + dir + "/t.yaml --arch " + dir + "/a.yaml");
    EXPECT_EQ(r.code, 2) << r.err;
    EXPECT_NE(r.err.find(dir + "/a.yaml:2: space_file: found '../x.yaml', expected a file name"), std::string::npos)
        << r.err;
}

// The run directory alone, from another working directory: eval, extract,
// finetune and retrain find the config, the space, the weights and the
// supernet in it.
TEST(RunDir, CommandsTakeTheRunDirectoryAlone) {
    const QuickRun& q = quick_run();
    ASSERT_TRUE(q.ok) << q.log;
    std::string elsewhere = test_temp_dir("run_dir_cwd");
    Result r = run("eval --arch " + q.dir, elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    Result with_files = run("eval -c " + q.dir + "/config.yaml --arch " + q.dir + "/best.yaml --weights " + q.dir +
                            "/best.safetensors");
    EXPECT_EQ(r.out, with_files.out);
    r = run("extract --arch " + q.dir + " -o x.safetensors", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    r = run("eval --arch " + q.dir + " --weights x.safetensors", elsewhere);
    ASSERT_EQ(r.code, 0) << "the extracted weights fit the architecture: " << r.err;
    r = run("finetune --arch " + q.dir + " -o ft --epochs 1", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out.rfind("top1 ", 0), 0u) << r.out;
    r = run("retrain --arch " + q.dir + "/best.yaml -o rt --epochs 1", elsewhere);
    ASSERT_EQ(r.code, 0) << r.err;
    struct stat st;
    EXPECT_EQ(stat((elsewhere + "/rt/subnet.safetensors").c_str(), &st), 0);
}

namespace {

// The command examples of README.md: every line of a ```sh block (with its
// backslash continuations) that starts a command.
std::vector<std::string> readme_examples() {
    std::istringstream in(slurp("README.md"));
    std::vector<std::string> out;
    std::string line, cmd;
    bool in_sh = false;
    while (std::getline(in, line)) {
        if (line.rfind("```", 0) == 0) {
            in_sh = !in_sh && line.substr(3) == "sh";
            continue;
        }
        if (!in_sh) continue;
        bool more = !line.empty() && line.back() == '\\';
        cmd += more ? line.substr(0, line.size() - 1) : line;
        if (more) continue;
        size_t first = cmd.find_first_not_of(' ');
        if (first != std::string::npos && cmd[first] != '#') out.push_back(cmd.substr(first));
        cmd.clear();
    }
    return out;
}

// Examples a test cannot run, each with the reason. An example not named
// here is run.
const char* const kNotRun[][2] = {
    // The whole pipeline on all of Fashion-MNIST (hours); `hwnas run` is run
    // end to end by Cli.RunPipelineEndToEndAndTorchAgrees and above.
    {"make run", "the full pipeline takes hours"},
    // The test suite itself: running it from a test would recurse.
    {"make test", "the test suite itself"},
    // Data parallel training: under mpirun it is run by DataParallel.* on a
    // small space; the examples train all of Fashion-MNIST, and the second
    // needs ImageNet, 8 GPUs and a hosts file.
    {"mpirun -np 2 build/hwnas train", "full Fashion-MNIST training under mpirun (DataParallel.* covers it)"},
    {"mpirun -np 8 --hostfile hosts", "ImageNet on 8 GPUs"},
};

const char* not_run_reason(const std::string& cmd) {
    for (const auto& e : kNotRun)
        if (cmd.rfind(e[0], 0) == 0) return e[1];
    return nullptr;
}

void replace_all(std::string& s, const std::string& from, const std::string& to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) s.replace(at, from.size(), to);
}

// `name` as a whole path component (runs/fmnist, runs/fmnist/best.yaml, not
// runs/fmnist-quick) becomes `dir`.
void replace_run_dir(std::string& s, const std::string& name, const std::string& dir) {
    for (size_t at = s.find(name); at != std::string::npos; at = s.find(name, at + 1)) {
        size_t end = at + name.size();
        if (end < s.size() && s[end] != '/' && s[end] != ' ') continue;
        s.replace(at, name.size(), dir);
        at += dir.size() - 1;
    }
}

}  // namespace

// Every example runs, on the quick run directory of this file: the README's
// config becomes the small one, runs/fmnist the quick run, other run
// directories fresh ones, and training commands train one epoch.
TEST(Readme, EveryCommandExampleRuns) {
    const QuickRun& q = quick_run();
    ASSERT_TRUE(q.ok) << q.log;
    std::vector<std::string> examples = readme_examples();
    ASSERT_FALSE(examples.empty()) << "no ```sh block found in README.md";
    int ran = 0;
    std::string runs = test_temp_dir("readme");
    for (std::string cmd : examples) {
        if (not_run_reason(cmd)) continue;
        bool hwnas = cmd.rfind("build/hwnas ", 0) == 0 || cmd.rfind("hwnas ", 0) == 0;
        ASSERT_TRUE(hwnas) << "an example the test cannot run: add it to kNotRun with the reason\n" << cmd;
        cmd = cmd.substr(cmd.find("hwnas ") + 6);
        replace_all(cmd, "configs/fmnist.yaml", q.config);
        replace_run_dir(cmd, "runs/fmnist", q.dir);
        replace_all(cmd, "runs/", runs + "/");
        std::string verb = cmd.substr(0, cmd.find(' '));
        if (verb == "train" || verb == "finetune" || verb == "retrain") cmd += " --epochs 1";
        Result r = run(cmd);
        EXPECT_EQ(r.code, 0) << "README example: " << cmd << "\n" << r.err;
        ran++;
    }
    EXPECT_GT(ran, 0) << "every example excluded";
}
