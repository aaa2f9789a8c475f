// Kernel launches: the launch-configuration checks of an sm_90 device, the
// grid run over a pool of OS threads (each block whole on one of them), and
// the signal handlers that turn a fault inside a kernel into a sticky CUDA
// error naming the kernel, block and thread.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "emu_block.h"

namespace cuda_emu {

// The limits of the emulated device (an H100-like sm_90), as the CUDA
// programming guide's table of compute capabilities gives them.
static const unsigned kMaxBlockDim[3] = {1024, 1024, 64};
static const unsigned kMaxGridDim[3] = {2147483647u, 65535, 65535};
static const size_t kMaxDynamicShared = 48 << 10;

// ---------------------------------------------------------------- launch checks

static cudaError_t check_config(const char* kernel, const char* file, int line, dim3 grid,
                                dim3 block, size_t shared_bytes, std::string* why) {
    char buf[256];
    unsigned b[3] = {block.x, block.y, block.z}, g[3] = {grid.x, grid.y, grid.z};
    uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (threads > MAX_BLOCK_THREADS) {
        snprintf(buf, sizeof buf, "block (%u,%u,%u) has %llu threads; the device allows 1024",
                 b[0], b[1], b[2], (unsigned long long)threads);
        *why = buf;
        return cudaErrorInvalidConfiguration;
    }
    for (int d = 0; d < 3; d++) {
        if (b[d] == 0 || b[d] > kMaxBlockDim[d] || g[d] == 0 || g[d] > kMaxGridDim[d]) {
            snprintf(buf, sizeof buf, "grid (%u,%u,%u) block (%u,%u,%u) exceeds the device limits",
                     g[0], g[1], g[2], b[0], b[1], b[2]);
            *why = buf;
            return cudaErrorInvalidConfiguration;
        }
    }
    if (shared_bytes > kMaxDynamicShared) {
        snprintf(buf, sizeof buf, "%zu bytes of dynamic shared memory; 49152 without opt-in",
                 shared_bytes);
        *why = buf;
        return cudaErrorInvalidValue;
    }
    return cudaSuccess;
}

cudaError_t launch_erased(const char* kernel, const char* file, int line, dim3 grid, dim3 block,
                          size_t shared_bytes, cudaStream_t stream, KernelThunk thunk, void* args,
                          void (*destroy)(void*)) {
    std::string why;
    cudaError_t e = check_config(kernel, file, line, grid, block, shared_bytes, &why);
    if (e != cudaSuccess) {
        destroy(args);
        fprintf(stderr, "cuda-emu: launch of %s at %s:%d: %s\n", kernel, file, line, why.c_str());
        return set_last_error(e);
    }
    KernelLaunch k = {kernel, file, line, grid, block, shared_bytes, thunk, args, destroy};
    return enqueue_kernel(stream, k);
}

// ---------------------------------------------------------------- the grid

// OS threads running blocks: the host thread plus workers, as many as cores
// (CUDA_EMU_WORKERS overrides; 1 runs every block on the host thread).
class WorkerPool {
public:
    explicit WorkerPool(int workers) {
        for (int i = 0; i < workers; i++) threads_.emplace_back([this] { loop(); });
        for (std::thread& t : threads_) t.detach();  // live as long as the process
    }
    int workers() const { return (int)threads_.size(); }
    // Runs body(b) for b in [0, count) on every thread; returns when all are done.
    void run(uint64_t count, const std::function<void(uint64_t)>& body) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            body_ = &body;
            count_ = count;
            next_ = 0;
            busy_ = (int)threads_.size();
            generation_++;
        }
        wake_.notify_all();
        drain();
        std::unique_lock<std::mutex> lock(mutex_);
        idle_.wait(lock, [this] { return busy_ == 0; });
    }

private:
    void drain() {
        for (uint64_t b; (b = next_.fetch_add(1)) < count_;) (*body_)(b);
    }
    void loop() {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                wake_.wait(lock, [&] { return generation_ != seen; });
                seen = generation_;
            }
            drain();
            std::lock_guard<std::mutex> lock(mutex_);
            if (--busy_ == 0) idle_.notify_all();
        }
    }
    std::vector<std::thread> threads_;
    std::mutex mutex_;
    std::condition_variable wake_, idle_;
    const std::function<void(uint64_t)>* body_ = nullptr;
    std::atomic<uint64_t> next_{0};
    uint64_t count_ = 0, generation_ = 0;
    int busy_ = 0;
};

static WorkerPool& pool() {
    static WorkerPool* p = [] {
        long cores = (long)std::thread::hardware_concurrency();
        long n = setting_long("CUDA_EMU_WORKERS", cores > 0 ? cores : 1);
        return new WorkerPool((int)(n > 64 ? 63 : n - 1));  // never freed: detached threads use it
    }();
    return *p;
}

static void ensure_alt_stack();

static BlockRun& this_thread_block_run() {
    thread_local std::unique_ptr<BlockRun> run;
    if (!run) run.reset(new BlockRun());
    return *run;
}

// The first fault of a launch, from whichever block found it.
struct LaunchOutcome {
    std::mutex mutex;
    std::atomic<bool> failed{false};
    int code = 0;
    std::string message;
};

void run_kernel(const KernelLaunch& k) {
    static std::atomic<uint64_t> launches{0};
    uint64_t seq = launches.fetch_add(1);
    uint64_t blocks = (uint64_t)k.grid.x * k.grid.y * k.grid.z;
    LaunchOutcome out;
    std::function<void(uint64_t)> body = [&](uint64_t b) {
        if (out.failed.load()) return;  // a faulted grid stops, as on a GPU
        ensure_alt_stack();
        BlockRun& run = this_thread_block_run();
        // Alternate the thread order between blocks and launches, so both a
        // leading low warp and a leading high warp get their turn.
        run.run(k, b, ((seq + b) & 1) != 0);
        if (!run.failed()) return;
        std::lock_guard<std::mutex> lock(out.mutex);
        if (!out.failed.exchange(true)) {
            out.code = run.fail_code();
            out.message = run.fail_message();
        }
    };
    if (blocks == 1 || pool().workers() == 0)
        for (uint64_t b = 0; b < blocks; b++) body(b);
    else
        pool().run(blocks, body);
    if (out.failed) fault((cudaError_t)out.code, "%s", out.message.c_str());
}

// ---------------------------------------------------------------- faults

// Each thread that runs blocks handles its faults on an alternate stack, so a
// fiber stack overflow (its guard page) can be reported too.
static void ensure_alt_stack() {
    thread_local void* memory = nullptr;  // lives as long as the thread
    if (memory) return;
    stack_t ss;
    ss.ss_size = 64 << 10;
    ss.ss_sp = memory = malloc(ss.ss_size);
    ss.ss_flags = 0;
    if (ss.ss_sp) sigaltstack(&ss, nullptr);
}

static void write_stderr(const char* s) {
    ssize_t ignored = write(2, s, strlen(s));
    (void)ignored;
}

static void on_fault_signal(int sig, siginfo_t* info, void*) {
    BlockRun* run = tls_block_run;
    char desc[384], what[512];
    if (run && tls_fault_jump) {
        if (sig == SIGFPE) {
            snprintf(what, sizeof what,
                     "arithmetic trap (integer division by zero?), which a GPU does not report");
            run->record_signal_fault(cudaErrorIllegalInstruction, what);
        } else {
            describe_address_into(desc, sizeof desc, info->si_addr, 1);
            snprintf(what, sizeof what, "invalid memory access at %p: %s", info->si_addr, desc);
            run->record_signal_fault(cudaErrorIllegalAddress, what);
        }
        siglongjmp(*tls_fault_jump, 1);
    }
    if (sig == SIGSEGV && address_is_device(info->si_addr)) {
        describe_address_into(desc, sizeof desc, info->si_addr, 1);
        snprintf(what, sizeof what,
                 "cuda-emu: host code dereferenced device memory at %p (%s); device memory is "
                 "reachable only from kernels and cudaMemcpy\n",
                 info->si_addr, desc);
        write_stderr(what);
    }
    // Not ours: the default action, on the faulting instruction again.
    signal(sig, SIG_DFL);
}

void install_fault_handlers() {
#if !defined(__SANITIZE_ADDRESS__)
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
    sigaction(SIGBUS, &sa, nullptr);
    sigaction(SIGFPE, &sa, nullptr);
    ensure_alt_stack();
#else
    (void)on_fault_signal;  // AddressSanitizer reports faults itself
#endif
}

}  // namespace cuda_emu
