// Fiber stacks and context switches (see emu_fiber.h).
#include "emu_fiber.h"

#include <stdint.h>
#include <sys/mman.h>
#include <pthread.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define CUDA_EMU_ASAN 1
#else
#define CUDA_EMU_ASAN 0
#endif

namespace cuda_emu {

bool fiber_stack_create(FiberStack* s, size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size = (size + page - 1) / page * page;
    void* p = mmap(nullptr, size + page, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    // The guard page: stacks grow down, so it sits below the usable part.
    if (mprotect(p, page, PROT_NONE) != 0) {
        munmap(p, size + page);
        return false;
    }
    s->base = (char*)p + page;
    s->size = size;
    return true;
}

void fiber_stack_destroy(FiberStack* s) {
    if (!s->base) return;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(s->base - page, s->size + page);
    s->base = nullptr;
    s->size = 0;
}

#if defined(__x86_64__)
// cuda_emu_switch(void** save_sp, void* load_sp): pushes the callee-saved
// registers and the SSE/x87 control words, stores rsp, loads the other
// stack and pops its saved state. cuda_emu_fiber_start is where a new
// fiber's first `ret` lands: it calls entry (r13) with arg (r12).
extern "C" void cuda_emu_switch(void** save_sp, void* load_sp);
extern "C" void cuda_emu_fiber_start(void);
asm(R"(
    .text
    .globl cuda_emu_switch
    .type cuda_emu_switch, @function
cuda_emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size cuda_emu_switch, .-cuda_emu_switch

    .globl cuda_emu_fiber_start
    .type cuda_emu_fiber_start, @function
cuda_emu_fiber_start:
    movq %r12, %rdi
    callq *%r13
    ud2
    .size cuda_emu_fiber_start, .-cuda_emu_fiber_start
)");

// A fiber's last frames never return (it switches away for good), so their
// AddressSanitizer redzones would stay on a reused stack: clear them.
static void forget_old_frames(const FiberStack& stack) {
#if CUDA_EMU_ASAN
    __asan_unpoison_memory_region(stack.base, stack.size);
#else
    (void)stack;
#endif
}

void fiber_make(FiberContext* to, const FiberStack& stack, void (*entry)(void*), void* arg) {
    forget_old_frames(stack);
    uintptr_t top = ((uintptr_t)(stack.base + stack.size) & ~(uintptr_t)15) - 16;
    uint64_t* p = (uint64_t*)top;
    *--p = (uint64_t)(uintptr_t)&cuda_emu_fiber_start;  // popped by `ret`
    *--p = 0;                                           // rbp
    *--p = 0;                                           // rbx
    *--p = (uint64_t)(uintptr_t)arg;                    // r12
    *--p = (uint64_t)(uintptr_t)entry;                  // r13
    *--p = 0;                                           // r14
    *--p = 0;                                           // r15
    // Default MXCSR (all exceptions masked, round to nearest) and x87
    // control word (extended precision, exceptions masked).
    *--p = (uint64_t)0x1F80u | ((uint64_t)0x037Fu << 32);
    to->sp = p;
    to->stack_bottom = stack.base;
    to->stack_size = stack.size;
}

void fiber_switch(FiberContext* from, FiberContext* to) {
#if CUDA_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, to->stack_bottom, to->stack_size);
    cuda_emu_switch(&from->sp, to->sp);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    cuda_emu_switch(&from->sp, to->sp);
#endif
}
#else
// Portable fallback: slower (swapcontext saves the signal mask with a
// system call), same semantics.
static void ucontext_entry(unsigned hi, unsigned lo, unsigned ehi, unsigned elo) {
    void* arg = (void*)(((uintptr_t)hi << 32) | lo);
    void (*entry)(void*) = (void (*)(void*))(((uintptr_t)ehi << 32) | elo);
    entry(arg);
}

void fiber_make(FiberContext* to, const FiberStack& stack, void (*entry)(void*), void* arg) {
    forget_old_frames(stack);
    getcontext(&to->uc);
    to->uc.uc_stack.ss_sp = stack.base;
    to->uc.uc_stack.ss_size = stack.size;
    to->uc.uc_link = nullptr;
    uintptr_t a = (uintptr_t)arg, e = (uintptr_t)entry;
    makecontext(&to->uc, (void (*)())ucontext_entry, 4, (unsigned)(a >> 32), (unsigned)a,
                (unsigned)(e >> 32), (unsigned)e);
    to->stack_bottom = stack.base;
    to->stack_size = stack.size;
}

void fiber_switch(FiberContext* from, FiberContext* to) {
#if CUDA_EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, to->stack_bottom, to->stack_size);
    swapcontext(&from->uc, &to->uc);
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#else
    swapcontext(&from->uc, &to->uc);
#endif
}
#endif

void fiber_started() {
#if CUDA_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
}

void fiber_context_of_thread(FiberContext* c) {
#if CUDA_EMU_ASAN
    pthread_attr_t attr;
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    c->stack_bottom = addr;
    c->stack_size = size;
#else
    (void)c;
#endif
}

}  // namespace cuda_emu
