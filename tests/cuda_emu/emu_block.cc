// Execution of one block (see emu_block.h).
#include "emu_block.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

namespace cuda_emu {

thread_local BlockRun* tls_block_run = nullptr;
thread_local sigjmp_buf* tls_fault_jump = nullptr;

// Fiber stacks: kernels keep little on the stack, but sanitizer builds and
// deep inlined device functions need room. CUDA_EMU_STACK_KB overrides.
static size_t fiber_stack_bytes() {
#if defined(__SANITIZE_ADDRESS__)
    long kb = setting_long("CUDA_EMU_STACK_KB", 512);
#else
    long kb = setting_long("CUDA_EMU_STACK_KB", 64);
#endif
    return (size_t)kb << 10;
}

BlockRun::BlockRun() { fiber_context_of_thread(&scheduler_); }

BlockRun::~BlockRun() {
    for (FiberStack& s : stacks_) fiber_stack_destroy(&s);
}

void BlockRun::setup(const KernelLaunch& k, uint64_t index, bool descending) {
    launch_ = &k;
    descending_ = descending;
    unsigned gx = k.grid.x, gy = k.grid.y;
    block_.block_idx = uint3{(unsigned)(index % gx), (unsigned)(index / gx % gy),
                             (unsigned)(index / ((uint64_t)gx * gy))};
    block_.block_dim = k.block;
    block_.grid_dim = k.grid;
    // Dynamic shared memory starts as NaN bytes: reading it before writing shows.
    if (dynamic_shared_.size() < k.shared_bytes) dynamic_shared_.resize(k.shared_bytes);
    if (k.shared_bytes) memset(dynamic_shared_.data(), 0xff, k.shared_bytes);
    block_.dynamic_shared = k.shared_bytes ? dynamic_shared_.data() : nullptr;
    n_ = (int)(k.block.x * k.block.y * k.block.z);
    for (int t = 0; t < n_; t++) {
        Fiber& f = fibers_[t];
        unsigned bx = k.block.x, by = k.block.y;
        f.ts.thread_idx = uint3{t % bx, t / bx % by, t / (bx * by)};
        f.ts.linear = t;
        f.stack = -1;
        f.started = f.done = false;
        f.wait = WaitKind::None;
        f.file = nullptr;
        f.line = 0;
        f.slot = -1;
    }
    for (int w = 0; w * 32 < n_; w++) {
        int lanes = n_ - w * 32 < 32 ? n_ - w * 32 : 32;
        warps_[w].lanes = lanes == 32 ? 0xffffffffu : ((1u << lanes) - 1);
        warps_[w].exited = 0;
        for (Rendezvous& r : warps_[w].slots) r.used = false;
    }
    memset(runnable_, 0, sizeof runnable_);
    for (int t = 0; t < n_; t++) set_runnable(t);
    done_ = exited_ = at_barrier_ = 0;
    current_ = nullptr;
    failed_ = false;
    fail_code_ = 0;
    fail_msg_[0] = 0;
}

void BlockRun::run(const KernelLaunch& k, uint64_t index, bool descending) {
    setup(k, index, descending);
    tls_block = &block_;
    tls_block_run = this;
    // A fault signal in kernel code (emu_launch.cc) records its message and
    // jumps back here; the block's fibers are abandoned.
    sigjmp_buf jump;
    tls_fault_jump = &jump;
    if (sigsetjmp(jump, 1) == 0) schedule();
    tls_fault_jump = nullptr;
    current_ = nullptr;
    tls_block_run = nullptr;
    tls_block = nullptr;
    tls_thread = nullptr;
    release_stacks();
}

void BlockRun::schedule() {
    for (;;) {
        int t = pick();
        if (t < 0) break;
        resume(t);
        if (failed_) return;
    }
    if (done_ != n_) report_deadlock();
}

int BlockRun::pick() const {
    const int words = MAX_BLOCK_THREADS / 64;
    if (!descending_) {
        for (int i = 0; i < words; i++)
            if (runnable_[i]) return i * 64 + __builtin_ctzll(runnable_[i]);
    } else {
        for (int i = words - 1; i >= 0; i--)
            if (runnable_[i]) return i * 64 + 63 - __builtin_clzll(runnable_[i]);
    }
    return -1;
}

void BlockRun::resume(int t) {
    clear_runnable(t);
    Fiber& f = fibers_[t];
    if (!f.started) {
        f.started = true;
        f.stack = acquire_stack();
        if (f.stack < 0) {
            fail(cudaErrorLaunchOutOfResources, "no memory for the stack of thread %d", t);
            return;
        }
        fiber_make(&f.ctx, stacks_[f.stack], &BlockRun::fiber_entry, this);
    }
    current_ = &f;
    tls_thread = &f.ts;
    fiber_switch(&scheduler_, &f.ctx);
    current_ = nullptr;
    tls_thread = nullptr;
    if (f.done && f.stack >= 0) {
        free_stacks_.push_back(f.stack);
        f.stack = -1;
    }
}

void BlockRun::fiber_entry(void* self) {
    fiber_started();
    BlockRun* b = static_cast<BlockRun*>(self);
    b->launch_->thunk(b->launch_->args);
    b->thread_exit();
}

// A returning thread may leave others waiting forever: at a barrier, or at a
// warp rendezvous whose mask names it.
void BlockRun::thread_exit() {
    Fiber& f = *current_;
    f.done = true;
    done_++;
    exited_++;
    warps_[f.ts.linear >> 5].exited |= 1u << (f.ts.linear & 31);
    check_exit_against_waits(f);
    leave_fiber_for_good();
}

void BlockRun::check_exit_against_waits(const Fiber& f) {
    if (at_barrier_ > 0) {
        for (int t = 0; t < n_; t++)
            if (fibers_[t].wait == WaitKind::Barrier) {
                fail(cudaErrorLaunchFailure,
                     "thread %d returned while thread %d waits at __syncthreads() (%s:%d): every "
                     "thread of the block must reach it",
                     f.ts.linear, t, fibers_[t].file, fibers_[t].line);
                return;
            }
    }
    unsigned bit = 1u << (f.ts.linear & 31);
    for (const Rendezvous& r : warps_[f.ts.linear >> 5].slots)
        if (r.used && !r.complete && (r.mask & bit) && !(r.arrived & bit)) {
            fail(cudaErrorLaunchFailure,
                 "lane %d returned without reaching %s (%s:%d, mask 0x%08x) that other lanes "
                 "wait at",
                 f.ts.linear & 31, r.what, r.file, r.line, r.mask);
            return;
        }
}

void BlockRun::leave_fiber_for_good() {
    Fiber& f = *current_;
    fiber_switch(&f.ctx, &scheduler_);
    __builtin_trap();  // never resumed
}

void BlockRun::yield() { fiber_switch(&current_->ctx, &scheduler_); }

void BlockRun::fail(int code, const char* fmt, ...) {
    if (failed_) return;
    failed_ = true;
    fail_code_ = code;
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const uint3& b = block_.block_idx;
    snprintf(fail_msg_, sizeof fail_msg_, "kernel %s (launched at %s:%d), block (%u,%u,%u): %s",
             launch_->kernel, launch_->file, launch_->line, b.x, b.y, b.z, what);
    // From a fiber: never continue the kernel code that failed.
    if (current_) leave_fiber_for_good();
}

void BlockRun::record_signal_fault(int code, const char* what) {
    failed_ = true;
    fail_code_ = code;
    const uint3& b = block_.block_idx;
    const uint3 t = current_ ? current_->ts.thread_idx : uint3{0, 0, 0};
    snprintf(fail_msg_, sizeof fail_msg_,
             "kernel %s (launched at %s:%d), block (%u,%u,%u), thread (%u,%u,%u): %s",
             launch_->kernel, launch_->file, launch_->line, b.x, b.y, b.z, t.x, t.y, t.z, what);
}

void BlockRun::fault_from_device(int code, const char* what, const char* file, int line) {
    const uint3 t = current_->ts.thread_idx;
    fail(code, "thread (%u,%u,%u) at %s:%d: %s", t.x, t.y, t.z, file, line, what);
    __builtin_trap();
}

void BlockRun::report_deadlock() {
    for (int t = 0; t < n_; t++) {
        const Fiber& f = fibers_[t];
        if (f.done || f.wait != WaitKind::Warp) continue;
        const Rendezvous& r = warps_[t >> 5].slots[f.slot];
        fail(cudaErrorLaunchFailure,
             "deadlock: lanes 0x%08x of warp %d wait at %s (%s:%d, mask 0x%08x) for lanes "
             "0x%08x that never arrive",
             r.arrived, t >> 5, r.what, r.file, r.line, r.mask, r.mask & ~r.arrived);
        return;
    }
    fail(cudaErrorLaunchFailure, "deadlock: %d of %d threads wait at __syncthreads()",
         at_barrier_, n_);
}

int BlockRun::acquire_stack() {
    if (!free_stacks_.empty()) {
        int s = free_stacks_.back();
        free_stacks_.pop_back();
        return s;
    }
    FiberStack s;
    if (!fiber_stack_create(&s, fiber_stack_bytes())) return -1;
    stacks_.push_back(s);
    return (int)stacks_.size() - 1;
}

// After the block (or its abandonment on a fault) every stack is free again.
void BlockRun::release_stacks() {
    for (int t = 0; t < n_; t++)
        if (fibers_[t].stack >= 0) {
            free_stacks_.push_back(fibers_[t].stack);
            fibers_[t].stack = -1;
        }
}

}  // namespace cuda_emu
