// One block of a launch in execution: its threads as fibers, the barrier,
// the warp rendezvous of shuffles and votes, and the checks that hardware
// does not forgive (a barrier not every thread reaches, a shuffle mask naming
// a lane that is absent or has returned, a deadlock).
//
// Scheduling is adversarial on purpose: the lowest-numbered runnable thread
// (or the highest, alternating between blocks) runs until it blocks, so one
// warp runs as far ahead of the others as the synchronization allows. Code
// that leans on an implicit ordering (a missing __syncthreads, warp-
// synchronous code without __syncwarp) then reads stale data and fails.
#ifndef CUDA_EMU_BLOCK_H
#define CUDA_EMU_BLOCK_H

#include <setjmp.h>
#include <stdint.h>

#include <vector>

#include "emu_fiber.h"
#include "emu_internal.h"

namespace cuda_emu {

enum { MAX_BLOCK_THREADS = 1024, MAX_WARPS = MAX_BLOCK_THREADS / 32 };

enum class WaitKind : uint8_t { None, Barrier, Warp };

struct Fiber {
    FiberContext ctx;
    ThreadState ts;
    int stack;  // index in the worker's stack pool, -1 when none
    bool started, done;
    WaitKind wait;
    const char* file;  // where it waits
    int line;
    int slot;  // warp rendezvous slot while waiting on one
};

// One shuffle, vote or __syncwarp in progress: the lanes of `mask` deposit
// their values; it completes when all have, and is freed when all have read.
struct Rendezvous {
    bool used, complete;
    unsigned mask, arrived, left;
    const char* what;
    const char* file;
    int line;
    uint64_t values[32];
};

struct WarpState {
    unsigned lanes;   // lanes that exist (a partial last warp has fewer)
    unsigned exited;  // lanes that have returned
    Rendezvous slots[32];
};

class BlockRun {
public:
    BlockRun();
    ~BlockRun();
    // Runs block `index` of k to the end or to its first fault.
    void run(const KernelLaunch& k, uint64_t index, bool descending);
    bool failed() const { return failed_; }
    int fail_code() const { return fail_code_; }
    const char* fail_message() const { return fail_msg_; }

    // Device-side entry points (emu_device.cc), on the running fiber.
    void barrier(const char* file, int line);
    void warp_exchange(unsigned mask, uint64_t bits, uint64_t values[32], const char* what,
                       const char* file, int line);
    unsigned lane_mask_active() const;
    [[noreturn]] void fault_from_device(int code, const char* what, const char* file, int line);
    // From the fault signal handler: the message must not allocate.
    void record_signal_fault(int code, const char* what);

private:
    void setup(const KernelLaunch& k, uint64_t index, bool descending);
    void schedule();
    int pick() const;
    void resume(int t);
    static void fiber_entry(void* self);
    void thread_exit();
    void release_barrier();
    void check_exit_against_waits(const Fiber& f);
    void report_deadlock();
    void fail(int code, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
    [[noreturn]] void leave_fiber_for_good();
    void yield();
    void set_runnable(int t) { runnable_[t >> 6] |= (uint64_t)1 << (t & 63); }
    void clear_runnable(int t) { runnable_[t >> 6] &= ~((uint64_t)1 << (t & 63)); }
    int acquire_stack();
    void release_stacks();

    const KernelLaunch* launch_ = nullptr;
    BlockState block_{};
    int n_ = 0;
    bool descending_ = false;
    Fiber fibers_[MAX_BLOCK_THREADS];
    WarpState warps_[MAX_WARPS];
    uint64_t runnable_[MAX_BLOCK_THREADS / 64];
    int done_ = 0, exited_ = 0, at_barrier_ = 0;
    FiberContext scheduler_;
    Fiber* current_ = nullptr;
    std::vector<FiberStack> stacks_;
    std::vector<int> free_stacks_;
    std::vector<char> dynamic_shared_;
    bool failed_ = false;
    int fail_code_ = 0;
    char fail_msg_[1024];
};

// The block running on this OS thread (null outside kernels).
extern thread_local BlockRun* tls_block_run;
// Where a fault signal inside a kernel jumps back to (null outside kernels).
extern thread_local sigjmp_buf* tls_fault_jump;

}  // namespace cuda_emu

#endif
