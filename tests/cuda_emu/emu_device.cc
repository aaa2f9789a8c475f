// Device-side synchronization of the emulator: __syncthreads(), the warp
// rendezvous behind shuffles, votes and __syncwarp, and faults raised by
// device code. Each call runs on the fiber of the calling thread.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_block.h"

namespace cuda_emu {

thread_local ThreadState* tls_thread = nullptr;
thread_local BlockState* tls_block = nullptr;

static BlockRun& running_block(const char* what) {
    if (!tls_block_run) {
        fprintf(stderr, "cuda-emu: %s called outside a kernel\n", what);
        abort();
    }
    return *tls_block_run;
}

// ---------------------------------------------------------------- barrier

void BlockRun::barrier(const char* file, int line) {
    Fiber& f = *current_;
    if (exited_ > 0) {
        for (int t = 0; t < n_; t++)
            if (fibers_[t].done)
                fail(cudaErrorLaunchFailure,
                     "thread %d reached __syncthreads() (%s:%d) after thread %d returned: every "
                     "thread of the block must reach it",
                     f.ts.linear, file, line, t);
    }
    f.wait = WaitKind::Barrier;
    f.file = file;
    f.line = line;
    if (++at_barrier_ == n_) release_barrier();
    yield();
}

// Everyone has arrived: at the same call (else undefined in CUDA), then all
// run on, lowest (or highest) first as always.
void BlockRun::release_barrier() {
    const Fiber& first = fibers_[0];
    for (int t = 1; t < n_; t++) {
        const Fiber& f = fibers_[t];
        if (f.line != first.line || strcmp(f.file, first.file) != 0)
            fail(cudaErrorLaunchFailure,
                 "threads wait at different __syncthreads() calls: thread 0 at %s:%d, thread %d "
                 "at %s:%d (undefined in CUDA)",
                 first.file, first.line, t, f.file, f.line);
    }
    for (int t = 0; t < n_; t++) {
        fibers_[t].wait = WaitKind::None;
        set_runnable(t);
    }
    at_barrier_ = 0;
}

// ---------------------------------------------------------------- warps

static int find_slot(WarpState& w, unsigned mask, unsigned bit) {
    for (int i = 0; i < 32; i++) {
        Rendezvous& r = w.slots[i];
        if (r.used && !r.complete && r.mask == mask && !(r.arrived & bit)) return i;
    }
    for (int i = 0; i < 32; i++)
        if (!w.slots[i].used) return i;
    return -1;  // cannot happen: at most 32 lanes wait at once
}

void BlockRun::warp_exchange(unsigned mask, uint64_t bits, uint64_t values[32], const char* what,
                             const char* file, int line) {
    Fiber& f = *current_;
    int lane = f.ts.linear & 31, warp = f.ts.linear >> 5;
    unsigned bit = 1u << lane;
    WarpState& w = warps_[warp];
    if (!(mask & bit))
        fail(cudaErrorIllegalInstruction, "lane %d calls %s (%s:%d) with mask 0x%08x that leaves it out",
             lane, what, file, line, mask);
    if (mask & ~w.lanes)
        fail(cudaErrorIllegalInstruction,
             "%s (%s:%d): mask 0x%08x names lanes 0x%08x that do not exist (warp %d has lanes "
             "0x%08x)",
             what, file, line, mask, mask & ~w.lanes, warp, w.lanes);
    if (mask & w.exited)
        fail(cudaErrorIllegalInstruction,
             "%s (%s:%d): mask 0x%08x names lanes 0x%08x that have returned", what, file, line,
             mask, mask & w.exited);
    int s = find_slot(w, mask, bit);
    Rendezvous& r = w.slots[s];
    if (!r.used) {
        r.used = true;
        r.complete = false;
        r.mask = mask;
        r.arrived = r.left = 0;
        r.what = what;
        r.file = file;
        r.line = line;
    }
    r.values[lane] = bits;
    r.arrived |= bit;
    f.wait = WaitKind::Warp;
    f.slot = s;
    f.file = file;
    f.line = line;
    if (r.arrived == mask) {
        r.complete = true;
        for (int l = 0; l < 32; l++)
            if (mask & (1u << l)) {
                fibers_[warp * 32 + l].wait = WaitKind::None;
                set_runnable(warp * 32 + l);
            }
    }
    yield();
    memcpy(values, r.values, sizeof r.values);
    r.left |= bit;
    if (r.left == r.mask) r.used = false;
    f.slot = -1;
}

unsigned BlockRun::lane_mask_active() const {
    const WarpState& w = warps_[current_->ts.linear >> 5];
    return w.lanes & ~w.exited;
}

// ---------------------------------------------------------------- entry points

void block_barrier(const char* file, int line) {
    running_block("__syncthreads()").barrier(file, line);
}

void warp_exchange(unsigned mask, uint64_t bits, uint64_t values[32], const char* what,
                   const char* file, int line) {
    running_block(what).warp_exchange(mask, bits, values, what, file, line);
}

unsigned lane_id() { return (unsigned)tls_thread->linear & 31u; }

unsigned active_mask() { return running_block("__activemask()").lane_mask_active(); }

void device_fault(int code, const char* what, const char* file, int line) {
    running_block(what).fault_from_device(code, what, file, line);
}

int shuffle_source(ShuffleKind kind, int lane, int arg, int width) {
    int base = lane / width * width;
    switch (kind) {
    case SHFL_IDX:
        return base + ((arg % width) + width) % width;
    case SHFL_UP:
        return lane - base < arg ? lane : lane - arg;
    case SHFL_DOWN:
        return lane - base + arg >= width ? lane : lane + arg;
    case SHFL_XOR: {
        int src = lane ^ arg;
        // Later segments (and lanes past the warp) give the caller's own value.
        return src >= base + width || src > 31 || src < 0 ? lane : src;
    }
    }
    return lane;
}

// kind: 0 ballot, 1 all, 2 any, 3 __syncwarp.
unsigned vote(int kind, unsigned mask, int predicate, const char* file, int line) {
    static const char* const kNames[] = {"__ballot_sync", "__all_sync", "__any_sync",
                                         "__syncwarp"};
    uint64_t values[32];
    warp_exchange(mask, predicate ? 1 : 0, values, kNames[kind & 3], file, line);
    unsigned ballot = 0;
    for (int l = 0; l < 32; l++)
        if ((mask >> l & 1u) && values[l]) ballot |= 1u << l;
    if (kind == 0) return ballot;
    if (kind == 1) return ballot == mask;
    if (kind == 2) return ballot != 0;
    return 0;
}

}  // namespace cuda_emu
