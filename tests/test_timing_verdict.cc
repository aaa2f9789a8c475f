// Robust latency measurement without timing anything: the statistic and the
// busy decision on synthetic samples (search/timing_verdict.h), the order in
// which measure_items runs its items and its refusal (search/measure.h, with
// runs that do nothing and the HWNAS_TEST_LATENCY_BUSY hook), and pinning
// that gives the threads their CPUs back (kernels/cpu_team.h).
#include <gtest/gtest.h>
#include <sched.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "kernels/cpu_team.h"
#include "kernels/ops.h"
#include "search/measure.h"
#include "search/timing_verdict.h"

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Linear interpolation between order statistics, numpy.quantile's default:
// position q * (n - 1) of the sorted values.
TEST(TimingVerdict, QuantileInterpolatesBetweenOrderStatistics) {
    double v[] = {5, 1, 4, 2, 3};
    EXPECT_DOUBLE_EQ(timing_quantile(v, 5, 0.0), 1.0);
    EXPECT_DOUBLE_EQ(timing_quantile(v, 5, 0.2), 1.8);  // 1 + 0.8 * (2 - 1)
    EXPECT_DOUBLE_EQ(timing_quantile(v, 5, 0.5), 3.0);
    EXPECT_DOUBLE_EQ(timing_quantile(v, 5, 1.0), 5.0);
    EXPECT_EQ(v[0], 1.0);  // sorted in place
    double one = 7;
    EXPECT_DOUBLE_EQ(timing_quantile(&one, 1, 0.2), 7.0);
    EXPECT_DOUBLE_EQ(timing_quantile(nullptr, 0, 0.2), 0.0);
}

// A fifth of the runs interrupted (3 ms instead of 1 ms) leaves the figure at
// the undisturbed 1 ms, where the mean would say 1.4 ms.
TEST(TimingVerdict, InterruptedRunsDoNotMoveTheFigure) {
    std::vector<double> v;
    for (int i = 0; i < 100; i++) v.push_back(i % 5 == 4 ? 3.0 : 1.0);
    TimingSummary s = timing_summarize(v.data(), (int)v.size());
    EXPECT_DOUBLE_EQ(s.ms, 1.0);
    EXPECT_NEAR(s.spread, 1.4, 1e-12);  // 80th percentile: 1 + 0.2 * (3 - 1) at position 0.8 * 99 (rounding)
    EXPECT_GT(s.std, 0.0);
    // Every run the same: no spread, no deviation.
    std::vector<double> flat(30, 2.5);
    s = timing_summarize(flat.data(), 30);
    EXPECT_DOUBLE_EQ(s.ms, 2.5);
    EXPECT_DOUBLE_EQ(s.spread, 1.0);
    EXPECT_DOUBLE_EQ(s.std, 0.0);
}

TEST(TimingVerdict, QuietMeasurementPasses) {
    double spreads[] = {1.03, 1.08, 1.05};
    TimingVerdict v;
    timing_verdict(spreads, 3, TimingSignals{0.02, 0.99}, &v);
    EXPECT_EQ(v.busy, 0) << v.why;
    EXPECT_DOUBLE_EQ(v.spread, 1.05);
    // At the limits exactly: still quiet (the limits are the largest allowed).
    double at_limit[] = {TIMING_MAX_SPREAD};
    timing_verdict(at_limit, 1, TimingSignals{TIMING_MAX_STOLEN, -1}, &v);
    EXPECT_EQ(v.busy, 0) << v.why;
}

// Runs slowed alike (a network longer than the scheduler's slice): no
// spread, but the run-queue wait shows that another process held the CPUs.
TEST(TimingVerdict, StolenTimeIsBusyEvenWithoutSpread) {
    double spreads[] = {1.01, 1.02};
    TimingVerdict v;
    timing_verdict(spreads, 2, TimingSignals{0.30, 0.98}, &v);
    EXPECT_EQ(v.busy, 1);
    EXPECT_TRUE(contains(v.why, "30%")) << v.why;
    EXPECT_TRUE(contains(v.why, "at most 10%")) << v.why;
}

// The measuring thread's CPU share decides only where the OS does not report
// run-queue waits.
TEST(TimingVerdict, CpuShareIsTheFallback) {
    double spreads[] = {1.02};
    TimingVerdict v;
    timing_verdict(spreads, 1, TimingSignals{-1, 0.60}, &v);
    EXPECT_EQ(v.busy, 1);
    EXPECT_TRUE(contains(v.why, "60% of the wall time")) << v.why;
    timing_verdict(spreads, 1, TimingSignals{0.01, 0.60}, &v);
    EXPECT_EQ(v.busy, 0) << v.why;
    timing_verdict(spreads, 1, TimingSignals{-1, -1}, &v);  // nothing known: the spread alone
    EXPECT_EQ(v.busy, 0) << v.why;
}

// The median spread over the items: one noisy item does not condemn a
// measurement, most items noisy do.
TEST(TimingVerdict, SpreadIsJudgedOverTheItems) {
    double one_noisy[] = {1.05, 3.0, 1.04};
    TimingVerdict v;
    timing_verdict(one_noisy, 3, TimingSignals{-1, -1}, &v);
    EXPECT_EQ(v.busy, 0) << v.why;
    double most_noisy[] = {1.1, 2.0, 1.9};
    timing_verdict(most_noisy, 3, TimingSignals{-1, -1}, &v);
    EXPECT_EQ(v.busy, 1);
    EXPECT_TRUE(contains(v.why, "spread 1.90x")) << v.why;
}

// ------------------------------------------------ measure_items, no timing

struct Logged {
    int id;
    std::vector<int>* log;
};

void log_run(Supernet*, void* arg) {
    Logged* l = static_cast<Logged*>(arg);
    l->log->push_back(l->id);
}

// A Supernet shell with only what measure_items uses: the CPU ops (timer,
// synchronize) and one thread.
struct Shell {
    Supernet sn;
    Shell() {
        std::memset(&sn, 0, sizeof sn);
        sn.ops = &ops_cpu;
        sn.ctx.threads = 1;
    }
};

// The environment of one test, restored after it.
struct EnvVar {
    std::string name, old;
    bool had;
    EnvVar(const char* n, const char* value) : name(n) {
        const char* o = std::getenv(n);
        had = o != nullptr;
        if (had) old = o;
        if (value) setenv(n, value, 1);
        else unsetenv(n);
    }
    ~EnvVar() {
        if (had) setenv(name.c_str(), old.c_str(), 1);
        else unsetenv(name.c_str());
    }
};

// Warm-up runs first, then rounds: each item an untimed run and
// MEASURE_GROUP timed ones, the first item one further each round.
TEST(Measure, InterleavesItemsRoundByRound) {
    EnvVar quiet(MEASURE_BUSY_ENV, nullptr);
    EnvVar warn(MEASURE_ON_BUSY_ENV, "warn");  // this machine's load must not matter here
    Shell s;
    std::vector<int> log;
    Logged args[3] = {{0, &log}, {1, &log}, {2, &log}};
    MeasureItem items[3];
    for (int i = 0; i < 3; i++) items[i] = MeasureItem{log_run, &args[i]};
    MeasureOptions opt = {2, 12, 0};  // 12 runs: rounded up to 3 groups of 5
    TimingSummary out[3];
    MeasureResult res;
    HwErr err = {{0}, 0};
    ASSERT_EQ(measure_items(&s.sn, &opt, items, 3, out, &res, &err), 0) << err.msg;
    EXPECT_EQ(res.runs, 15);
    std::vector<int> want = {0, 0, 1, 1, 2, 2};  // warm-up
    const int starts[3][3] = {{0, 1, 2}, {1, 2, 0}, {2, 0, 1}};
    for (int r = 0; r < 3; r++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 1 + MEASURE_GROUP; k++) want.push_back(starts[r][j]);
    // A try judged busy (this machine is shared) is repeated whole.
    ASSERT_EQ(log.size(), want.size() * (size_t)res.tries);
    for (size_t i = 0; i < log.size(); i++) ASSERT_EQ(log[i], want[i % want.size()]) << "run " << i;
    for (int i = 0; i < 3; i++) {
        EXPECT_GE(out[i].ms, 0.0);
        EXPECT_GE(out[i].spread, 1.0);
    }
}

// A machine judged busy (the hook) is measured MEASURE_TRIES times, then
// refused with one line saying why; with force it is measured and flagged.
TEST(Measure, BusyMachineIsRetriedThenRefusedOrForced) {
    EnvVar busy(MEASURE_BUSY_ENV, "1");
    EnvVar refuse(MEASURE_ON_BUSY_ENV, nullptr);
    Shell s;
    std::vector<int> log;
    Logged arg = {0, &log};
    MeasureItem item = {log_run, &arg};
    MeasureOptions opt = {1, 5, 0};
    TimingSummary out;
    MeasureResult res;
    HwErr err = {{0}, 0};
    EXPECT_EQ(measure_items(&s.sn, &opt, &item, 1, &out, &res, &err), -1);
    EXPECT_EQ(err.code, 1);
    EXPECT_TRUE(contains(err.msg, "machine too busy to measure latency")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "50% of the measuring threads' time")) << err.msg;
    EXPECT_TRUE(contains(err.msg, "in 3 tries")) << err.msg;
    EXPECT_EQ(res.tries, MEASURE_TRIES);
    EXPECT_EQ(log.size(), (size_t)MEASURE_TRIES * (1 + 1 + MEASURE_GROUP));
    opt.force = 1;
    ASSERT_EQ(measure_items(&s.sn, &opt, &item, 1, &out, &res, &err), 0) << err.msg;
    EXPECT_EQ(res.busy, 1);
    EXPECT_TRUE(contains(res.why, "50%")) << res.why;
    {
        EnvVar warn(MEASURE_ON_BUSY_ENV, "warn");  // the environment's force
        opt.force = 0;
        ASSERT_EQ(measure_items(&s.sn, &opt, &item, 1, &out, &res, &err), 0) << err.msg;
        EXPECT_EQ(res.busy, 1);
    }
}

// Pinning, where the OS allows it, is undone: threads started later (data
// loaders) inherit their creator's CPU set.
TEST(Measure, PinningGivesTheCpusBack) {
    cpu_set_t before, during, after;
    ASSERT_EQ(sched_getaffinity(0, sizeof before, &before), 0);
    CpuTeamPin pin;
    int pinned = cpu_team_pin(1, &pin);
    ASSERT_EQ(sched_getaffinity(0, sizeof during, &during), 0);
    if (pinned) EXPECT_EQ(CPU_COUNT(&during), 1);
    else EXPECT_TRUE(CPU_EQUAL(&during, &before));
    cpu_team_unpin(&pin);
    ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&after, &before));
    // More threads than usable CPUs: not pinned, nothing changed.
    EXPECT_EQ(cpu_team_pin(CPU_COUNT(&before) + 1, &pin), 0);
    ASSERT_EQ(sched_getaffinity(0, sizeof after, &after), 0);
    EXPECT_TRUE(CPU_EQUAL(&after, &before));
}

}  // namespace
