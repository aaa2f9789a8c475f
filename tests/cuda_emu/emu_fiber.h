// Cooperative fibers: the threads of an emulated block. A fiber runs until
// it blocks (barrier, warp rendezvous) or returns, then control goes back to
// the block's scheduler on the OS thread that runs the block. On x86-64 the
// switch saves only callee-saved registers (a few nanoseconds, no system
// call); elsewhere it falls back to ucontext.
#ifndef CUDA_EMU_FIBER_H
#define CUDA_EMU_FIBER_H

#include <stddef.h>

#if !defined(__x86_64__)
#include <ucontext.h>
#endif

namespace cuda_emu {

struct FiberContext {
#if defined(__x86_64__)
    void* sp = nullptr;
#else
    ucontext_t uc;
#endif
    // AddressSanitizer bookkeeping of the stack this context runs on.
    const void* stack_bottom = nullptr;
    size_t stack_size = 0;
};

// A fiber stack: mapped memory with an inaccessible guard page below it, so
// an overflow faults instead of corrupting a neighbour.
struct FiberStack {
    char* base = nullptr;  // lowest usable byte
    size_t size = 0;
};
bool fiber_stack_create(FiberStack* s, size_t size);
void fiber_stack_destroy(FiberStack* s);

// Prepares `to` to start entry(arg) on `stack` at its first switch. `entry`
// must never return: it ends by switching away for good.
void fiber_make(FiberContext* to, const FiberStack& stack, void (*entry)(void*), void* arg);
// Saves the running context in `from` and resumes `to`.
void fiber_switch(FiberContext* from, FiberContext* to);
// Called first thing by a fiber's entry (sanitizer bookkeeping).
void fiber_started();
// Fills the stack bounds of the calling OS thread's own context (the
// scheduler's), needed by AddressSanitizer builds.
void fiber_context_of_thread(FiberContext* c);

}  // namespace cuda_emu

#endif
