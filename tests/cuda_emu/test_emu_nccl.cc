// Tests of the NCCL emulation (emu_nccl.cc). The ranks are child processes
// of this program (re-executed with --emu-nccl-child, so that every rank
// starts with a fresh emulated device, as under mpirun); each runs a
// scenario with cudaMalloc'd buffers and exits 0 when all its checks hold.
// The parent makes the unique id, starts the ranks, kills them after a
// deadline (a hang fails the test instead of the job) and shows a failing
// rank's output. Ends with "N passed, M failed".
#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <nccl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cuda_runtime.h>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

namespace {

// ================================================================ child side

int g_rank = -1, g_failures = 0;

// Records a failed check with its line; the child's exit code reports it.
#define CHECK_C(cond)                                                                          \
    ((cond) ? true                                                                             \
            : (fprintf(stderr, "rank %d: %s:%d: check failed: %s\n", g_rank, __FILE__, __LINE__, \
                       #cond),                                                                 \
               g_failures++, false))

// Exit code of a rank whose ncclCommInitRank rejected a duplicate rank.
constexpr int kRejected = 10;
// emu_nccl.cc's per-rank slot: collectives of more bytes take several rounds.
constexpr size_t kSlotBytes = size_t(256) << 10;

template <class T>
T* to_device(const std::vector<T>& host) {
    void* d = nullptr;
    CHECK_C(cudaMalloc(&d, host.size() * sizeof(T)) == cudaSuccess);
    CHECK_C(cudaMemcpy(d, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
    return static_cast<T*>(d);
}

template <class T>
std::vector<T> from_device(const T* d, size_t n) {
    std::vector<T> host(n);
    CHECK_C(cudaMemcpy(host.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return host;
}

// Rank r's element i: floats with rounding in them (so the order of a sum
// of 3 shows), integers small enough that no reduction of 3 overflows.
template <class T>
T value(int rank, size_t i) {
    size_t k = (i * 7919u + (size_t)rank * 104729u) % 10007u;
    if constexpr (std::is_floating_point_v<T>) return (T)k * (T)0.0173 - (T)80.1;
    return (T)((long)(k % 81) - 40);
}

template <class T>
T fold(ncclRedOp_t op, T a, T b) {
    switch (op) {
        case ncclProd: return (T)(a * b);
        case ncclMax: return b > a ? b : a;
        case ncclMin: return b < a ? b : a;
        default: return (T)(a + b);
    }
}

// The documented result, in rank order; for two ranks' float average it is
// dp_check's formula (a + b) * 0.5, which the emulator must equal bit for bit.
template <class T>
T expected(ncclRedOp_t op, int nranks, size_t i) {
    T acc = value<T>(0, i);
    if (std::is_floating_point_v<T> && op == ncclAvg && nranks == 2)
        return (T)((acc + value<T>(1, i)) * (T)0.5);
    for (int r = 1; r < nranks; r++) acc = fold(op, acc, value<T>(r, i));
    return op == ncclAvg ? (T)(acc / (T)nranks) : acc;
}

template <class T>
bool bit_equal(const std::vector<T>& got, size_t i, T want, const char* what) {
    if (memcmp(&got[i], &want, sizeof want) == 0) return true;
    fprintf(stderr, "rank %d: %s: element %zu is %.17g, expected %.17g\n", g_rank, what, i,
            (double)got[i], (double)want);
    g_failures++;
    return false;
}

struct Ctx {
    ncclComm_t comm;
    cudaStream_t stream;
    int rank, nranks;
};

template <class T>
void allreduce_case(const Ctx& c, ncclDataType_t type, ncclRedOp_t op, size_t count, bool in_place,
                    const char* what) {
    std::vector<T> mine(count);
    for (size_t i = 0; i < count; i++) mine[i] = value<T>(c.rank, i);
    T* send = to_device(mine);
    T* recv = send;
    if (!in_place) CHECK_C(cudaMalloc((void**)&recv, count * sizeof(T)) == cudaSuccess);
    CHECK_C(ncclAllReduce(send, recv, count, type, op, c.comm, c.stream) == ncclSuccess);
    CHECK_C(cudaStreamSynchronize(c.stream) == cudaSuccess);
    std::vector<T> got = from_device(recv, count);
    for (size_t i = 0; i < count; i++)
        if (!bit_equal(got, i, expected<T>(op, c.nranks, i), what)) break;
    if (!in_place) cudaFree(recv);
    cudaFree(send);
}

void allreduce_cases(const Ctx& c) {
    const size_t big = 2 * kSlotBytes / sizeof(float) + 123;  // three rounds, the last partial
    allreduce_case<float>(c, ncclFloat, ncclSum, big, true, "float sum in place");
    allreduce_case<float>(c, ncclFloat, ncclAvg, big, false, "float avg out of place");
    allreduce_case<float>(c, ncclFloat, ncclAvg, 1000, true, "float avg in place");
    allreduce_case<double>(c, ncclDouble, ncclSum, kSlotBytes / 8 + 7, false, "double sum out of place");
    allreduce_case<double>(c, ncclDouble, ncclAvg, 999, true, "double avg in place");
    allreduce_case<float>(c, ncclFloat, ncclMax, 777, false, "float max");
    allreduce_case<int>(c, ncclInt, ncclSum, 1000, true, "int sum");
    allreduce_case<int>(c, ncclInt, ncclProd, 1000, false, "int prod");
    allreduce_case<int>(c, ncclInt32, ncclMax, 1000, true, "int max");
    allreduce_case<int>(c, ncclInt, ncclMin, 1000, false, "int min");
    allreduce_case<int8_t>(c, ncclChar, ncclSum, kSlotBytes + 5, true, "char sum");
    allreduce_case<int8_t>(c, ncclInt8, ncclMin, 300, false, "char min");
    // Count 0: nothing moves, null buffers are fine.
    CHECK_C(ncclAllReduce(nullptr, nullptr, 0, ncclFloat, ncclSum, c.comm, c.stream) == ncclSuccess);
}

// Root's pattern to every rank; non-roots pass no send buffer when
// out of place (NCCL reads it on the root only).
template <class T>
void broadcast_case(const Ctx& c, ncclDataType_t type, int root, size_t count, bool in_place, bool bcast,
                    const char* what) {
    std::vector<T> mine(count);
    for (size_t i = 0; i < count; i++) mine[i] = value<T>(c.rank, i);
    T* buf = to_device(mine);
    T* send = in_place ? buf : (c.rank == root ? to_device(mine) : nullptr);
    ncclResult_t r = bcast ? ncclBcast(buf, count, type, root, c.comm, c.stream)
                           : ncclBroadcast(send, buf, count, type, root, c.comm, c.stream);
    CHECK_C(r == ncclSuccess);
    CHECK_C(cudaStreamSynchronize(c.stream) == cudaSuccess);
    std::vector<T> got = from_device(buf, count);
    for (size_t i = 0; i < count; i++)
        if (!bit_equal(got, i, value<T>(root, i), what)) break;
    if (send != buf) cudaFree(send);
    cudaFree(buf);
}

void reduce_and_gather_cases(const Ctx& c) {
    const size_t count = kSlotBytes / sizeof(float) + 99;  // two rounds
    std::vector<float> mine(count);
    for (size_t i = 0; i < count; i++) mine[i] = value<float>(c.rank, i);
    float* send = to_device(mine);
    float* recv = nullptr;
    const int root = 1;
    if (c.rank == root) CHECK_C(cudaMalloc((void**)&recv, count * sizeof(float)) == cudaSuccess);
    CHECK_C(ncclReduce(send, recv, count, ncclFloat, ncclSum, root, c.comm, c.stream) == ncclSuccess);
    CHECK_C(cudaStreamSynchronize(c.stream) == cudaSuccess);
    if (c.rank == root) {
        std::vector<float> got = from_device(recv, count);
        for (size_t i = 0; i < count; i++)
            if (!bit_equal(got, i, expected<float>(ncclSum, c.nranks, i), "reduce to root 1")) break;
        cudaFree(recv);
    }
    CHECK_C(cudaMalloc((void**)&recv, count * c.nranks * sizeof(float)) == cudaSuccess);
    CHECK_C(ncclAllGather(send, recv, count, ncclFloat, c.comm, c.stream) == ncclSuccess);
    CHECK_C(cudaStreamSynchronize(c.stream) == cudaSuccess);
    std::vector<float> got = from_device(recv, count * c.nranks);
    for (size_t i = 0; i < count * c.nranks; i++)
        if (!bit_equal(got, i, value<float>((int)(i / count), i % count), "allgather")) break;
    cudaFree(recv);
    cudaFree(send);
}

// Every check is local (no rank waits for another), so the ranks stay in
// step; the allreduce after them shows the communicator still works.
void argument_checks(const Ctx& c) {
    float* dev = nullptr;
    CHECK_C(cudaMalloc((void**)&dev, 10 * sizeof(float)) == cudaSuccess);
    std::vector<float> host(10);
    const ncclResult_t bad = ncclInvalidArgument;
    CHECK_C(ncclAllReduce(dev, dev, 10, ncclFloat, ncclSum, nullptr, c.stream) == bad);
    CHECK_C(ncclAllReduce(dev, dev, 10, (ncclDataType_t)42, ncclSum, c.comm, c.stream) == bad);
    CHECK_C(ncclAllReduce(dev, dev, 10, ncclFloat, (ncclRedOp_t)9, c.comm, c.stream) == bad);
    CHECK_C(ncclAllReduce(dev, dev, SIZE_MAX / 2, ncclFloat, ncclSum, c.comm, c.stream) == bad);
    CHECK_C(ncclAllReduce(host.data(), dev, 10, ncclFloat, ncclSum, c.comm, c.stream) == bad);
    CHECK_C(ncclAllReduce(dev, host.data(), 10, ncclFloat, ncclSum, c.comm, c.stream) == bad);
    CHECK_C(ncclAllReduce(dev, dev, 11, ncclFloat, ncclSum, c.comm, c.stream) == bad);  // one too many
    CHECK_C(ncclBroadcast(dev, dev, 10, ncclFloat, c.nranks, c.comm, c.stream) == bad);
    CHECK_C(ncclBroadcast(dev, dev, 10, ncclFloat, -1, c.comm, c.stream) == bad);
    CHECK_C(ncclReduce(dev, dev, 10, ncclFloat, ncclSum, c.nranks, c.comm, c.stream) == bad);
    CHECK_C(ncclAllGather(dev, dev, 10, ncclFloat, c.comm, c.stream) == bad);  // recv needs nranks * 10
    cudaStream_t gone;
    CHECK_C(cudaStreamCreate(&gone) == cudaSuccess);
    CHECK_C(cudaStreamDestroy(gone) == cudaSuccess);
    CHECK_C(ncclAllReduce(dev, dev, 10, ncclFloat, ncclSum, c.comm, gone) == bad);
    CHECK_C(ncclGroupEnd() == ncclInvalidUsage);
    cudaFree(dev);
}

void communicator_queries(const Ctx& c) {
    int n = -1, r = -1, version = 0;
    CHECK_C(ncclCommCount(c.comm, &n) == ncclSuccess && n == c.nranks);
    CHECK_C(ncclCommUserRank(c.comm, &r) == ncclSuccess && r == c.rank);
    CHECK_C(ncclGetVersion(&version) == ncclSuccess && version >= 20900);
    CHECK_C(strlen(ncclGetErrorString(ncclInvalidArgument)) > 0);
    ncclResult_t async = ncclInternalError;
    CHECK_C(ncclCommGetAsyncError(c.comm, &async) == ncclSuccess && async == ncclSuccess);
}

void init_argument_checks(const ncclUniqueId& id, int nranks) {
    ncclComm_t comm;
    ncclUniqueId zeros;
    memset(&zeros, 0, sizeof zeros);
    CHECK_C(ncclCommInitRank(nullptr, nranks, id, 0) == ncclInvalidArgument);
    CHECK_C(ncclCommInitRank(&comm, 0, id, 0) == ncclInvalidArgument);
    CHECK_C(ncclCommInitRank(&comm, nranks, id, -1) == ncclInvalidArgument);
    CHECK_C(ncclCommInitRank(&comm, nranks, id, nranks) == ncclInvalidArgument);
    CHECK_C(ncclCommInitRank(&comm, nranks, zeros, 0) == ncclInvalidArgument);
}

// The segment's name is gone once every rank has joined or one gave up.
bool segment_unlinked(const ncclUniqueId& id) {
    int fd = shm_open(id.internal, O_RDONLY, 0);
    if (fd >= 0) close(fd);
    return fd < 0 && errno == ENOENT;
}

void scenario_collectives(const ncclUniqueId& id, int rank, int nranks) {
    init_argument_checks(id, nranks);
    Ctx c{nullptr, nullptr, rank, nranks};
    if (!CHECK_C(ncclCommInitRank(&c.comm, nranks, id, rank) == ncclSuccess)) return;
    CHECK_C(segment_unlinked(id));
    CHECK_C(cudaStreamCreate(&c.stream) == cudaSuccess);
    communicator_queries(c);
    allreduce_cases(c);
    broadcast_case<int8_t>(c, ncclChar, 0, kSlotBytes * 2 + 1, true, false, "char broadcast from 0 in place");
    broadcast_case<float>(c, ncclFloat, 1, 5000, false, false, "float broadcast from 1 out of place");
    broadcast_case<double>(c, ncclDouble, nranks - 1, 300, true, true, "ncclBcast from the last rank");
    reduce_and_gather_cases(c);
    argument_checks(c);
    CHECK_C(ncclGroupStart() == ncclSuccess);
    allreduce_case<float>(c, ncclFloat, ncclSum, 100, true, "in a group, after the argument checks");
    allreduce_case<double>(c, ncclDouble, ncclMin, 100, false, "second in a group");
    CHECK_C(ncclGroupEnd() == ncclSuccess);
    CHECK_C(cudaStreamDestroy(c.stream) == cudaSuccess);
    CHECK_C(ncclCommDestroy(c.comm) == ncclSuccess);
}

// Ranks 0 of 2 started twice: one of them is refused at once.
int scenario_duplicate(const ncclUniqueId& id, int rank, int nranks) {
    ncclComm_t comm;
    ncclResult_t r = ncclCommInitRank(&comm, nranks, id, rank);
    if (r == ncclInvalidArgument && strstr(ncclGetLastError(nullptr), "joined twice")) return kRejected;
    if (!CHECK_C(r == ncclSuccess)) return 1;
    Ctx c{comm, nullptr, rank, nranks};
    CHECK_C(cudaStreamCreate(&c.stream) == cudaSuccess);
    allreduce_case<float>(c, ncclFloat, ncclAvg, 100, true, "after a duplicate was refused");
    CHECK_C(cudaStreamDestroy(c.stream) == cudaSuccess);
    CHECK_C(ncclCommDestroy(comm) == ncclSuccess);
    return 0;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The only rank of 2 to come: an error after the timeout, nothing left behind.
void scenario_init_timeout(const ncclUniqueId& id, int rank, int nranks, int timeout_s) {
    ncclComm_t comm = reinterpret_cast<ncclComm_t>(&g_rank);
    auto t0 = std::chrono::steady_clock::now();
    CHECK_C(ncclCommInitRank(&comm, nranks, id, rank) == ncclSystemError);
    double s = seconds_since(t0);
    CHECK_C(s >= timeout_s - 0.5 && s < timeout_s + 5);
    CHECK_C(comm == nullptr);
    CHECK_C(strstr(ncclGetLastError(nullptr), "CUDA_EMU_NCCL_TIMEOUT") != nullptr);
    CHECK_C(segment_unlinked(id));
}

// Rank 1 leaves without calling the collective: rank 0's fails on its
// stream after the timeout, and the communicator reports a remote error.
void scenario_collective_timeout(const ncclUniqueId& id, int rank, int nranks, int timeout_s) {
    ncclComm_t comm;
    if (!CHECK_C(ncclCommInitRank(&comm, nranks, id, rank) == ncclSuccess)) return;
    if (rank == 0) {
        float* dev = nullptr;
        CHECK_C(cudaMalloc((void**)&dev, 64 * sizeof(float)) == cudaSuccess);
        auto t0 = std::chrono::steady_clock::now();
        CHECK_C(ncclAllReduce(dev, dev, 64, ncclFloat, ncclSum, comm, 0) == ncclSuccess);
        CHECK_C(cudaStreamSynchronize(0) == cudaErrorLaunchFailure);
        CHECK_C(seconds_since(t0) < timeout_s + 5);
        ncclResult_t async = ncclSuccess;
        CHECK_C(ncclCommGetAsyncError(comm, &async) == ncclSuccess && async == ncclRemoteError);
        cudaFree(dev);  // returns the sticky error; the memory goes all the same
    }
    ncclCommDestroy(comm);
}

// The ranks disagree on the count: a fault on every rank, at once.
void scenario_mismatch(const ncclUniqueId& id, int rank, int nranks) {
    ncclComm_t comm;
    if (!CHECK_C(ncclCommInitRank(&comm, nranks, id, rank) == ncclSuccess)) return;
    float* dev = nullptr;
    CHECK_C(cudaMalloc((void**)&dev, 64 * sizeof(float)) == cudaSuccess);
    CHECK_C(ncclAllReduce(dev, dev, 32 + rank, ncclFloat, ncclSum, comm, 0) == ncclSuccess);
    CHECK_C(cudaStreamSynchronize(0) == cudaErrorLaunchFailure);
    cudaFree(dev);
    ncclCommDestroy(comm);
}

ncclUniqueId id_from_hex(const char* hex) {
    ncclUniqueId id;
    for (size_t i = 0; i < sizeof id.internal; i++) {
        unsigned b = 0;
        sscanf(hex + 2 * i, "%2x", &b);
        id.internal[i] = (char)b;
    }
    return id;
}

// argv: --emu-nccl-child SCENARIO RANK NRANKS ID_HEX TIMEOUT_S
int child_main(char** argv) {
    std::string scenario = argv[2];
    int rank = atoi(argv[3]), nranks = atoi(argv[4]), timeout_s = atoi(argv[6]);
    ncclUniqueId id = id_from_hex(argv[5]);
    setenv("CUDA_EMU_NCCL_TIMEOUT", argv[6], 1);
    g_rank = rank;
    if (scenario == "collectives") scenario_collectives(id, rank, nranks);
    if (scenario == "duplicate") return scenario_duplicate(id, rank, nranks);
    if (scenario == "init_timeout") scenario_init_timeout(id, rank, nranks, timeout_s);
    if (scenario == "collective_timeout") scenario_collective_timeout(id, rank, nranks, timeout_s);
    if (scenario == "mismatch") scenario_mismatch(id, rank, nranks);
    if (g_failures) fprintf(stderr, "rank %d: %d checks failed\n", rank, g_failures);
    return g_failures ? 1 : 0;
}

// ================================================================ parent side

struct Rank {
    pid_t pid;
    std::string log;  // its stdout and stderr
};

std::string temp_dir() {
    static std::string dir;
    if (dir.empty()) {
        char tmpl[] = "/tmp/emu_nccl_XXXXXX";
        dir = mkdtemp(tmpl) ? tmpl : "/tmp";
    }
    return dir;
}

std::string id_to_hex(const ncclUniqueId& id) {
    std::string hex;
    char b[3];
    for (char ch : id.internal) snprintf(b, sizeof b, "%02x", (unsigned char)ch), hex += b;
    return hex;
}

Rank start_rank(const char* scenario, int rank, int nranks, const ncclUniqueId& id, int timeout_s) {
    static int started = 0;
    Rank r{-1, temp_dir() + "/rank" + std::to_string(started++) + ".log"};
    std::string hex = id_to_hex(id), ranks = std::to_string(nranks), me = std::to_string(rank),
                timeout = std::to_string(timeout_s);
    r.pid = fork();
    if (r.pid == 0) {
        int fd = open(r.log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        const char* args[] = {"test_emu_nccl", "--emu-nccl-child", scenario,   me.c_str(),
                              ranks.c_str(),   hex.c_str(),        timeout.c_str(), nullptr};
        execv("/proc/self/exe", const_cast<char* const*>(args));
        _exit(127);
    }
    return r;
}

std::string slurp(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The exit code of a rank, or -1 when it had to be killed after deadline_s
// (or died of a signal); `out` gets its log.
int finish_rank(const Rank& r, double deadline_s, std::string* out) {
    auto t0 = std::chrono::steady_clock::now();
    int status = 0;
    while (waitpid(r.pid, &status, WNOHANG) == 0) {
        if (seconds_since(t0) > deadline_s) {
            kill(r.pid, SIGKILL);
            waitpid(r.pid, &status, 0);
            *out += "(killed after " + std::to_string((int)deadline_s) + " s)\n";
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    *out += slurp(r.log);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ncclUniqueId fresh_id() {
    ncclUniqueId id;
    EXPECT_EQ(ncclGetUniqueId(&id), ncclSuccess);
    return id;
}

// Runs `scenario` on ranks 0..nranks-1 at once; the exit codes by rank.
std::vector<int> run_ranks(const char* scenario, int nranks, int timeout_s, std::string* out) {
    ncclUniqueId id = fresh_id();
    std::vector<Rank> ranks;
    for (int r = 0; r < nranks; r++) ranks.push_back(start_rank(scenario, r, nranks, id, timeout_s));
    std::vector<int> codes;
    for (int r = 0; r < nranks; r++) {
        *out += "--- rank " + std::to_string(r) + "\n";
        codes.push_back(finish_rank(ranks[r], 120, out));
    }
    return codes;
}

}  // namespace

TEST(EmuNccl, CollectivesOnTwoRanks) {
    std::string out;
    EXPECT_EQ(run_ranks("collectives", 2, 30, &out), std::vector<int>({0, 0})) << out;
}

TEST(EmuNccl, CollectivesOnThreeRanks) {
    std::string out;
    EXPECT_EQ(run_ranks("collectives", 3, 30, &out), std::vector<int>({0, 0, 0})) << out;
}

TEST(EmuNccl, InitTimesOutWhenARankNeverJoins) {
    std::string out;
    ncclUniqueId id = fresh_id();
    Rank lonely = start_rank("init_timeout", 0, 2, id, 2);
    EXPECT_EQ(finish_rank(lonely, 30, &out), 0) << out;
}

TEST(EmuNccl, CollectiveFaultsWhenARankLeaves) {
    std::string out;
    EXPECT_EQ(run_ranks("collective_timeout", 2, 2, &out), std::vector<int>({0, 0})) << out;
    EXPECT_NE(out.find("rank 1 did not arrive within 2 s"), std::string::npos) << out;
}

TEST(EmuNccl, MismatchedCollectivesFaultOnEveryRank) {
    std::string out;
    EXPECT_EQ(run_ranks("mismatch", 2, 30, &out), std::vector<int>({0, 0})) << out;
    EXPECT_NE(out.find("ncclAllReduce(count 32, ncclFloat32, ncclSum)"), std::string::npos) << out;
}

// Two processes claim rank 0 of 2: whichever registers second is refused at
// once; then rank 1 comes and the communicator works.
TEST(EmuNccl, DuplicateRankIsRefused) {
    std::string out;
    ncclUniqueId id = fresh_id();
    Rank a = start_rank("duplicate", 0, 2, id, 30), b = start_rank("duplicate", 0, 2, id, 30);
    // Neither can finish before rank 1 comes, so the first to exit is the refused one.
    pid_t first = -1;
    int status = 0;
    auto t0 = std::chrono::steady_clock::now();
    while (first <= 0 && seconds_since(t0) < 30) {
        first = waitpid(-1, &status, WNOHANG);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_TRUE(first == a.pid || first == b.pid) << "no rank 0 was refused within 30 s";
    EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, kRejected) << slurp(first == a.pid ? a.log : b.log);
    Rank one = start_rank("duplicate", 1, 2, id, 30);
    EXPECT_EQ(finish_rank(first == a.pid ? b : a, 60, &out), 0) << out;
    EXPECT_EQ(finish_rank(one, 60, &out), 0) << out;
}

int main(int argc, char** argv) {
    if (argc == 7 && !strcmp(argv[1], "--emu-nccl-child")) return child_main(argv);
    testing::InitGoogleTest(&argc, argv);
    int rc = RUN_ALL_TESTS();
    const testing::UnitTest* u = testing::UnitTest::GetInstance();
    printf("%d passed, %d failed\n", u->successful_test_count(), u->failed_test_count());
    std::error_code ignored;  // the logs are in the failure messages already
    if (temp_dir() != "/tmp") std::filesystem::remove_all(temp_dir(), ignored);
    return rc;
}
