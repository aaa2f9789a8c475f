#include "test_util.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include <ftw.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

std::string ref_dir() {
    const char* d = std::getenv("HWNAS_REF_DIR");
    return d ? d : "build/ref";
}

static std::map<std::string, RefFile*> g_ref_cache;  // loaded once per test binary

void ref_release_all() {
    for (auto& kv : g_ref_cache) ref_close(kv.second);
    g_ref_cache.clear();
}

const RefFile* ref_family(const char* family) {
    auto& cache = g_ref_cache;
    auto it = cache.find(family);
    if (it != cache.end()) return it->second;
    std::string path = ref_dir() + "/" + family + ".bin";
    char err[512] = {0};
    RefFile* f = ref_open(path.c_str(), err, sizeof err);
    if (!f) ADD_FAILURE() << err;
    cache[family] = f;
    return f;
}

static const RefTensor* ref_tensor(const char* family, const std::string& name, int dtype,
                                   size_t expect_numel) {
    const RefFile* f = ref_family(family);
    if (!f) return nullptr;
    const RefTensor* t = ref_get(f, name.c_str());
    if (!t) {
        ADD_FAILURE() << family << ".bin: missing reference tensor " << name;
        return nullptr;
    }
    if (t->dtype != dtype) {
        ADD_FAILURE() << family << ".bin: " << name << " has the wrong dtype";
        return nullptr;
    }
    if (expect_numel && t->numel != expect_numel) {
        ADD_FAILURE() << family << ".bin: " << name << " has " << t->numel << " elements, expected "
                      << expect_numel;
        return nullptr;
    }
    return t;
}

std::vector<float> ref_floats(const char* family, const std::string& name, size_t expect_numel) {
    const RefTensor* t = ref_tensor(family, name, REF_F32, expect_numel);
    if (!t) return {};
    const float* p = static_cast<const float*>(t->data);
    return std::vector<float>(p, p + t->numel);
}

std::vector<int> ref_ints(const char* family, const std::string& name, size_t expect_numel) {
    const RefTensor* t = ref_tensor(family, name, REF_I32, expect_numel);
    if (!t) return {};
    const int* p = static_cast<const int*>(t->data);
    return std::vector<int>(p, p + t->numel);
}

bool ref_has(const char* family, const std::string& name) {
    const RefFile* f = ref_family(family);
    return f && ref_get(f, name.c_str()) != nullptr;
}

void expect_close(const std::string& what, const float* got, const float* want, size_t n,
                  float atol, float rtol) {
    double max_abs = 0.0, worst_ratio = 0.0;
    size_t worst = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double err = std::fabs((double)got[i] - (double)want[i]);
        double tol = atol + rtol * std::fabs((double)want[i]);
        if (!(err <= tol)) bad++;  // NaN counts as bad
        if (err > max_abs || std::isnan(err)) max_abs = err;
        double ratio = err / tol;
        if (ratio > worst_ratio || std::isnan(ratio)) {
            worst_ratio = ratio;
            worst = i;
        }
    }
    std::printf("    %-48s n=%-8zu max|err| %.3g  worst err/tol %.3f  (atol %.1g rtol %.1g)\n",
                what.c_str(), n, max_abs, worst_ratio, atol, rtol);
    EXPECT_EQ(bad, 0u) << what << ": " << bad << " of " << n << " elements out of tolerance; worst at "
                       << worst << ": got " << got[worst] << " want " << want[worst];
}

std::vector<float> random_floats(size_t n, uint64_t seed, float lo, float hi) {
    std::vector<float> v(n);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = lo + (hi - lo) * (float)((s >> 40) * (1.0 / 16777216.0));
    }
    return v;
}

double dot_double(const float* a, const float* b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

void expect_gradient_matches_fd(const std::string& what, float* x, size_t n,
                                const float* analytic, const std::function<double()>& loss,
                                int samples, double eps, double atol, double rtol) {
    size_t count = n <= (size_t)samples ? n : (size_t)samples;
    double max_err = 0.0;
    int bad = 0;
    for (size_t k = 0; k < count; k++) {
        size_t i = count == n ? k : (k * 7919u + 13u) % n;
        float saved = x[i];
        x[i] = (float)(saved + eps);
        double up = loss();
        x[i] = (float)(saved - eps);
        double down = loss();
        x[i] = saved;
        double fd = (up - down) / (2 * eps);
        double err = std::fabs(fd - analytic[i]);
        double tol = atol + rtol * std::fmax(std::fabs(fd), std::fabs((double)analytic[i]));
        if (err > max_err) max_err = err;
        if (!(err <= tol)) {
            if (bad < 5)
                ADD_FAILURE() << what << "[" << i << "]: finite difference " << fd << " vs analytic "
                              << analytic[i];
            bad++;
        }
    }
    std::printf("    %-48s fd-check %zu coords  max|err| %.3g\n", what.c_str(), count, max_err);
    EXPECT_EQ(bad, 0) << what;
}

// Bitwise (memcmp, so -0 and +0 differ), for results identical by construction.
void expect_bitwise(const std::string& what, const std::vector<float>& got,
                           const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size()) << what;
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < got.size(); i++)
        if (std::memcmp(&got[i], &want[i], 4) != 0 && !bad++) first = i;
    std::printf("    %-48s n=%-8zu bitwise mismatches %zu\n", what.c_str(), got.size(), bad);
    EXPECT_EQ(bad, 0u) << what << ": first at " << first << ": got " << got[first] << " want "
                       << want[first];
}

static std::vector<std::string> g_temp_dirs;  // removed by remove_test_temp_dirs

// Keeps walking past an entry that will not go: best effort, never a failure.
static int remove_entry(const char* path, const struct stat*, int, struct FTW*) {
    std::remove(path);
    return 0;
}

// Removes `dir` and its contents; only ever under /tmp/hwnas_ (a guard against
// a test bug turning this into rm -rf of something else).
static void remove_tree(const std::string& dir) {
    if (dir.rfind("/tmp/hwnas_", 0) != 0) return;
    nftw(dir.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static std::string make_temp_dir(const char* tag) {
    std::string tmpl = std::string("/tmp/hwnas_") + tag + "_XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!mkdtemp(buf.data())) {
        ADD_FAILURE() << "mkdtemp " << tmpl << ": " << std::strerror(errno);
        return "/tmp/hwnas_mkdtemp_failed";
    }
    return buf.data();
}

std::string test_temp_dir(const char* tag) {
    std::string d = make_temp_dir(tag);
    g_temp_dirs.push_back(d);
    return d;
}

void remove_test_temp_dirs() {
    if (std::getenv("HWNAS_KEEP_TEST_DIRS")) return;  // for debugging a failure
    for (const std::string& d : g_temp_dirs) remove_tree(d);
    g_temp_dirs.clear();
}

TempDir::TempDir(const char* tag) : path(make_temp_dir(tag)) {}

TempDir::~TempDir() {
    if (!std::getenv("HWNAS_KEEP_TEST_DIRS")) remove_tree(path);
}

std::string TempDir::file(const std::string& name) {
    files.push_back(path + "/" + name);
    return files.back();
}

std::string TempDir::write(const std::string& name, const std::string& text) {
    std::string f = file(name);
    std::ofstream(f, std::ios::binary) << text;
    return f;
}

namespace hwtest {

static std::string absolute(const std::string& path) {
    char* real = realpath(path.c_str(), nullptr);
    std::string out = real ? real : path;
    std::free(real);
    return out;
}

std::string bin() {
    const char* b = std::getenv("HWNAS_BIN");
    return absolute(b ? b : "build/hwnas");
}

std::string repo_root() { return absolute("."); }

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

Result run(const std::string& args, const std::string& cwd) {
    std::string dir = test_temp_dir("run");
    std::string cmd = (cwd.empty() ? "" : "cd '" + cwd + "' && ") + bin() + " " + args + " >" + dir + "/out 2>" +
                      dir + "/err";
    int status = std::system(cmd.c_str());
    return Result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir + "/out"), slurp(dir + "/err")};
}

}  // namespace hwtest
