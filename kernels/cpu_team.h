// The CPU backend's OpenMP team seen from outside the kernels: pinning its
// threads to one CPU each while latencies are timed, and how long they waited
// for a CPU that another process held. Every kernel runs its parallel regions
// on this team (num_threads <= ctx->threads; libgomp hands a smaller team the
// same first threads), and GEMMs run single-threaded inside those regions, so
// these are all the threads that compute.
#ifndef HWNAS_CPU_TEAM_H
#define HWNAS_CPU_TEAM_H

#ifdef __cplusplus
extern "C" {
#endif

typedef struct CpuTeamPin {
    int pinned;                // 1 while the team is pinned
    int threads;
    unsigned char saved[128];  // the CPU set the threads had before (cpu_set_t, 1024 CPUs)
} CpuTeamPin;

// Pins thread k of a `threads`-thread team to the k-th CPU the process may
// use, so the scheduler does not move a thread in the middle of a timed run
// (a migration costs a cold cache). Returns 1 when pinned, 0 when not: on
// systems without sched_setaffinity, when the process may use fewer CPUs than
// `threads`, or when the OS refuses (a container's cpuset, a seccomp policy).
// Unpinned timings are still valid; only their spread is larger, and the busy
// check (search/timing_verdict.h) still judges them.
int cpu_team_pin(int threads, CpuTeamPin* pin);
// Gives every thread of the team its saved CPU set back: threads created
// later (data loaders) inherit their creator's set, so it must not stay one CPU.
void cpu_team_unpin(CpuTeamPin* pin);

// Nanoseconds the team's threads have spent runnable but waiting for a CPU
// (the run-queue wait of Linux's /proc/thread-self/schedstat), summed over the
// team; -1 where the OS does not report it. The difference between two calls
// is the time other processes took from the team.
long long cpu_team_wait_ns(int threads);

#ifdef __cplusplus
}
#endif
#endif
