// Pinning and run-queue wait of the OpenMP team (see kernels/cpu_team.h).
#define _GNU_SOURCE
#include "kernels/cpu_team.h"

#include <omp.h>
#include <stdio.h>
#include <string.h>

#ifdef __linux__
#include <sched.h>

_Static_assert(sizeof(cpu_set_t) <= sizeof(((CpuTeamPin*)0)->saved), "cpu_set_t larger than CpuTeamPin.saved");

// The k-th CPU of set (k from 0), -1 when there are fewer.
static int kth_cpu(const cpu_set_t* set, int k) {
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, set) && k-- == 0) return c;
    return -1;
}

// Every thread of the team sets its own affinity (sched_setaffinity(0, ...)
// acts on the calling thread); returns how many failed.
static int set_team_affinity(int threads, const cpu_set_t* all, int one_each) {
    int failed = 0;
#pragma omp parallel num_threads(threads) reduction(+ : failed)
    {
        cpu_set_t mine;
        if (one_each) {
            CPU_ZERO(&mine);
            int cpu = kth_cpu(all, omp_get_thread_num());
            if (cpu >= 0) CPU_SET(cpu, &mine);
        } else {
            mine = *all;
        }
        failed += CPU_COUNT(&mine) == 0 || sched_setaffinity(0, sizeof mine, &mine) != 0;
    }
    return failed;
}

int cpu_team_pin(int threads, CpuTeamPin* pin) {
    memset(pin, 0, sizeof *pin);
    pin->threads = threads;
    cpu_set_t all;
    CPU_ZERO(&all);
    if (threads < 1 || sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < threads) return 0;
    memcpy(pin->saved, &all, sizeof all);
    if (set_team_affinity(threads, &all, 1) != 0) {
        set_team_affinity(threads, &all, 0);  // some threads moved, some refused: undo
        return 0;
    }
    return pin->pinned = 1;
}

void cpu_team_unpin(CpuTeamPin* pin) {
    if (!pin->pinned) return;
    cpu_set_t all;
    memcpy(&all, pin->saved, sizeof all);
    set_team_affinity(pin->threads, &all, 0);
    pin->pinned = 0;
}

// The second field of /proc/thread-self/schedstat: "RUN_NS WAIT_NS SLICES";
// a value past 2^52 ns (52 days) is not believed, so a sum over 1024 threads fits.
static long long thread_wait_ns(void) {
    FILE* fp = fopen("/proc/thread-self/schedstat", "r");
    if (!fp) return -1;
    unsigned long long run = 0, wait = 0;
    int ok = fscanf(fp, "%llu %llu", &run, &wait) == 2 && wait < (1ULL << 52);
    fclose(fp);
    return ok ? (long long)wait : -1;
}

long long cpu_team_wait_ns(int threads) {
    long long sum = 0;
    int missing = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sum, missing)
    {
        long long w = thread_wait_ns();
        if (w < 0) missing++;
        else sum += w;
    }
    return missing ? -1 : sum;
}

#else  // no sched_setaffinity, no schedstat: unpinned, wait unknown

int cpu_team_pin(int threads, CpuTeamPin* pin) {
    memset(pin, 0, sizeof *pin);
    pin->threads = threads;
    return 0;
}

void cpu_team_unpin(CpuTeamPin* pin) { pin->pinned = 0; }

long long cpu_team_wait_ns(int threads) { return -1; }

#endif
