// Streams, events, copies and synchronization, executed lazily.
//
// Work queued on a stream runs only when something waits for it: a
// synchronize of that stream, an event it records, a blocking copy, cudaFree.
// Running stream S up to position p first runs, for every event wait queued
// on S before p, the waited-for stream up to the recorded position; nothing
// else runs. So work on another stream (the copy stream, say) runs as late as
// the program's own waits allow, and code that forgot a cudaStreamWaitEvent
// reads what was there before the copy, as a GPU may, and fails its test.
//
// The legacy default stream (handle 0) follows CUDA's rules: it waits for
// all blocking streams, and they wait for it; streams created with
// cudaStreamNonBlocking do neither.
#include <stdio.h>
#include <string.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <vector>

#include "emu_internal.h"

struct CUstream_st {
    unsigned flags = 0;
    bool legacy = false, destroyed = false;
    struct Op {
        enum Kind { WORK, RECORD, WAIT } kind;
        const char* name;
        std::function<void()> work;
        CUevent_st* event;         // RECORD
        CUstream_st* wait_stream;  // WAIT
        uint64_t wait_pos;
    };
    std::deque<Op> queue;
    uint64_t enqueued = 0, done = 0;  // positions: the n-th op queued is n
};

struct CUevent_st {
    unsigned flags = 0;
    bool destroyed = false;
    CUstream_st* stream = nullptr;  // of the latest record, null before any
    uint64_t pos = 0;
    double time_ms = 0;
};

namespace cuda_emu {

struct Streams {
    CUstream_st legacy;
    std::vector<std::unique_ptr<CUstream_st>> created;  // never freed: handles stay checkable
    std::vector<std::unique_ptr<CUevent_st>> events;
    Streams() { legacy.legacy = true; }
};
static Streams& streams() {
    static Streams* s = new Streams();
    return *s;
}

static CUstream_st* resolve(cudaStream_t s) {
    if (!s) return &streams().legacy;
    for (auto& c : streams().created)
        if (c.get() == s) return c->destroyed ? nullptr : c.get();
    return nullptr;
}

bool stream_valid(cudaStream_t s) { return resolve(s) != nullptr; }

static bool event_valid(cudaEvent_t e) {
    for (auto& c : streams().events)
        if (c.get() == e) return !c->destroyed;
    return false;
}

// ---------------------------------------------------------------- running

static void run_to(CUstream_st* s, uint64_t pos);

static void run_op(CUstream_st::Op& op) {
    switch (op.kind) {
    case CUstream_st::Op::WAIT:
        run_to(op.wait_stream, op.wait_pos);
        break;
    case CUstream_st::Op::RECORD:
        op.event->time_ms = device_clock_ms();
        break;
    case CUstream_st::Op::WORK:
        op.work();
        break;
    }
}

// After a fault the device runs nothing more (its context is lost); queued
// work is dropped in order.
static void run_to(CUstream_st* s, uint64_t pos) {
    while (s->done < pos) {
        CUstream_st::Op op = std::move(s->queue.front());
        s->queue.pop_front();
        if (sticky_error() == cudaSuccess) run_op(op);
        s->done++;
    }
}

// Runs with device memory accessible, then checks the allocations' tails.
static cudaError_t execute(CUstream_st* s, uint64_t pos) {
    if (s->done < pos) {
        DeviceAccess access;
        run_to(s, pos);
        check_allocation_tails();
    }
    return sticky_error();
}

static cudaError_t execute_all() {
    // Visit order: creation order (the copy stream after the compute stream)
    // or the reverse, so a missing wait shows under one order or the other.
    const char* order = setting("CUDA_EMU_DRAIN");
    bool reverse = order && !strcmp(order, "reverse");
    auto& c = streams().created;
    std::vector<CUstream_st*> all;
    for (auto& s : c) all.push_back(s.get());
    if (reverse) std::reverse(all.begin(), all.end());
    all.insert(reverse ? all.end() : all.begin(), &streams().legacy);
    for (CUstream_st* s : all) execute(s, s->enqueued);
    return sticky_error();
}

// ---------------------------------------------------------------- queueing

static uint64_t push(CUstream_st* s, CUstream_st::Op op) {
    s->queue.push_back(std::move(op));
    return ++s->enqueued;
}

static void push_wait(CUstream_st* s, CUstream_st* on, uint64_t pos) {
    if (on->done >= pos || on == s) return;
    push(s, {CUstream_st::Op::WAIT, "wait", nullptr, nullptr, on, pos});
}

// The implicit synchronization of the legacy default stream.
static void legacy_waits(CUstream_st* s) {
    Streams& all = streams();
    if (s->legacy) {
        for (auto& c : all.created)
            if (!c->destroyed && !(c->flags & cudaStreamNonBlocking)) push_wait(s, c.get(), c->enqueued);
    } else if (!(s->flags & cudaStreamNonBlocking)) {
        push_wait(s, &all.legacy, all.legacy.enqueued);
    }
}

static uint64_t push_work(CUstream_st* s, const char* name, std::function<void()> work) {
    legacy_waits(s);
    return push(s, {CUstream_st::Op::WORK, name, std::move(work), nullptr, nullptr, 0});
}

cudaError_t enqueue_work(cudaStream_t stream, const char* name, std::function<void()> work) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle, std::string(name) + ": destroyed or unknown stream");
    if (sticky_error() != cudaSuccess) return sticky_error();
    push_work(s, name, std::move(work));
    return cudaSuccess;
}

cudaError_t enqueue_kernel(cudaStream_t stream, const KernelLaunch& k) {
    // The arguments live as long as the queued launch, run or dropped.
    std::shared_ptr<void> args(k.args, k.destroy);
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle, std::string("launch of ") + k.kernel + ": destroyed or unknown stream");
    if (sticky_error() != cudaSuccess) return sticky_error();
    KernelLaunch copy = k;
    push_work(s, k.kernel, [copy, args] { run_kernel(copy); });
    return cudaSuccess;
}

cudaError_t run_stream(cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    return execute(s, s->enqueued);
}

}  // namespace cuda_emu

using namespace cuda_emu;

// ---------------------------------------------------------------- copies

// Checks both sides of a copy; the kind must match where the pointers live.
static cudaError_t check_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind* kind) {
    bool dst_dev = address_is_device(dst), src_dev = address_is_device(src);
    if (*kind == cudaMemcpyDefault)
        *kind = (cudaMemcpyKind)((src_dev ? 2 : 0) | (dst_dev ? 1 : 0));
    bool want_dst = *kind == cudaMemcpyHostToDevice || *kind == cudaMemcpyDeviceToDevice;
    bool want_src = *kind == cudaMemcpyDeviceToHost || *kind == cudaMemcpyDeviceToDevice;
    std::string why;
    if (*kind < cudaMemcpyHostToHost || *kind > cudaMemcpyDeviceToDevice) why = "bad cudaMemcpyKind";
    else if (want_dst && !device_range_ok(dst, bytes)) why = "destination " + describe_address(dst, bytes);
    else if (!want_dst && dst_dev) why = "destination is device memory but the kind says host";
    else if (want_src && !device_range_ok(src, bytes)) why = "source " + describe_address(src, bytes);
    else if (!want_src && src_dev) why = "source is device memory but the kind says host";
    else if (*kind == cudaMemcpyDeviceToDevice && (const char*)dst < (const char*)src + bytes &&
             (const char*)src < (const char*)dst + bytes && dst != src)
        why = "source and destination overlap (undefined for cudaMemcpy)";
    if (why.empty()) return cudaSuccess;
    return set_last_error(cudaErrorInvalidValue, "cudaMemcpy of " + std::to_string(bytes) + " bytes: " + why);
}

// Queues a copy. A pageable host source is read now (the runtime stages it
// before returning); a pinned one when the copy runs. A copy to pageable host
// memory completes before the call returns.
static cudaError_t queue_copy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                              CUstream_st* s, bool blocking) {
    cudaError_t e = check_copy(dst, src, bytes, &kind);
    if (e != cudaSuccess || bytes == 0) return e;
    if (sticky_error() != cudaSuccess) return sticky_error();
    std::function<void()> work;
    if (kind == cudaMemcpyHostToDevice && !is_pinned_host(src, bytes)) {
        auto staged = std::make_shared<std::vector<char>>((const char*)src, (const char*)src + bytes);
        work = [dst, staged] { memcpy(dst, staged->data(), staged->size()); };
    } else {
        work = [dst, src, bytes] { memmove(dst, src, bytes); };
    }
    uint64_t pos = push_work(s, "cudaMemcpy", std::move(work));
    if (blocking || (kind == cudaMemcpyDeviceToHost && !is_pinned_host(dst, bytes)))
        return execute(s, pos);
    return cudaSuccess;
}

cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    ApiLock lock;
    return queue_copy(dst, src, bytes, kind, &streams().legacy, true);
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind,
                            cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    return queue_copy(dst, src, bytes, kind, s, false);
}

static cudaError_t queue_memset(void* ptr, int value, size_t bytes, CUstream_st* s) {
    if (bytes == 0) return sticky_error();
    if (!device_range_ok(ptr, bytes))
        return set_last_error(cudaErrorInvalidValue, "cudaMemset of " + std::to_string(bytes) + " bytes: " + describe_address(ptr, bytes));
    if (sticky_error() != cudaSuccess) return sticky_error();
    push_work(s, "cudaMemset", [ptr, value, bytes] { memset(ptr, value, bytes); });
    return cudaSuccess;
}

// cudaMemset on device memory is asynchronous with respect to the host.
cudaError_t cudaMemset(void* ptr, int value, size_t bytes) {
    ApiLock lock;
    return queue_memset(ptr, value, bytes, &streams().legacy);
}

cudaError_t cudaMemsetAsync(void* ptr, int value, size_t bytes, cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    return queue_memset(ptr, value, bytes, s);
}

// cudaFree waits for the whole device first (so does the real one).
cudaError_t cudaFree(void* ptr) {
    ApiLock lock;
    if (!ptr) return sticky_error();
    execute_all();
    cudaError_t e = device_free(ptr);
    if (e != cudaSuccess) return set_last_error(e, "cudaFree of a pointer that cudaMalloc did not return");
    return sticky_error();
}

// ---------------------------------------------------------------- streams

cudaError_t cudaStreamCreateWithFlags(cudaStream_t* stream, unsigned flags) {
    ApiLock lock;
    if (!stream || (flags & ~cudaStreamNonBlocking)) return set_last_error(cudaErrorInvalidValue);
    streams().created.emplace_back(new CUstream_st());
    streams().created.back()->flags = flags;
    *stream = streams().created.back().get();
    return sticky_error();
}

cudaError_t cudaStreamCreate(cudaStream_t* stream) {
    return cudaStreamCreateWithFlags(stream, cudaStreamDefault);
}

cudaError_t cudaStreamDestroy(cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = stream ? resolve(stream) : nullptr;
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    execute(s, s->enqueued);  // queued work still completes
    s->destroyed = true;
    return sticky_error();
}

cudaError_t cudaStreamSynchronize(cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    return execute(s, s->enqueued);
}

// Pending work answers "not ready" once, and is run, so a polling loop ends.
cudaError_t cudaStreamQuery(cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s) return set_last_error(cudaErrorInvalidResourceHandle);
    bool pending = s->done < s->enqueued;
    cudaError_t e = execute(s, s->enqueued);
    return e != cudaSuccess ? e : (pending ? cudaErrorNotReady : cudaSuccess);
}

cudaError_t cudaStreamWaitEvent(cudaStream_t stream, cudaEvent_t event, unsigned flags) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s || !event_valid(event)) return set_last_error(cudaErrorInvalidResourceHandle);
    if (flags != 0) return set_last_error(cudaErrorInvalidValue);
    // Waits for the record queued most recently; a never-recorded event is complete.
    if (event->stream) push_wait(s, event->stream, event->pos);
    return sticky_error();
}

cudaError_t cudaDeviceSynchronize(void) {
    ApiLock lock;
    return execute_all();
}

cudaError_t cudaDeviceReset(void) {
    ApiLock lock;
    execute_all();
    return cudaSuccess;
}

// ---------------------------------------------------------------- events

cudaError_t cudaEventCreateWithFlags(cudaEvent_t* event, unsigned flags) {
    ApiLock lock;
    if (!event || (flags & ~7u)) return set_last_error(cudaErrorInvalidValue);
    streams().events.emplace_back(new CUevent_st());
    streams().events.back()->flags = flags;
    *event = streams().events.back().get();
    return sticky_error();
}

cudaError_t cudaEventCreate(cudaEvent_t* event) {
    return cudaEventCreateWithFlags(event, cudaEventDefault);
}

cudaError_t cudaEventDestroy(cudaEvent_t event) {
    ApiLock lock;
    if (!event_valid(event)) return set_last_error(cudaErrorInvalidResourceHandle);
    event->destroyed = true;  // queued records of it still run (harmlessly)
    return sticky_error();
}

cudaError_t cudaEventRecord(cudaEvent_t event, cudaStream_t stream) {
    ApiLock lock;
    CUstream_st* s = resolve(stream);
    if (!s || !event_valid(event)) return set_last_error(cudaErrorInvalidResourceHandle);
    legacy_waits(s);
    event->pos = push(s, {CUstream_st::Op::RECORD, "record", nullptr, event, nullptr, 0});
    event->stream = s;
    return sticky_error();
}

cudaError_t cudaEventSynchronize(cudaEvent_t event) {
    ApiLock lock;
    if (!event_valid(event)) return set_last_error(cudaErrorInvalidResourceHandle);
    if (!event->stream) return sticky_error();
    return execute(event->stream, event->pos);
}

cudaError_t cudaEventQuery(cudaEvent_t event) {
    ApiLock lock;
    if (!event_valid(event)) return set_last_error(cudaErrorInvalidResourceHandle);
    if (!event->stream || event->stream->done >= event->pos) return sticky_error();
    cudaError_t e = execute(event->stream, event->pos);
    return e != cudaSuccess ? e : cudaErrorNotReady;
}

cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
    ApiLock lock;
    if (!ms) return set_last_error(cudaErrorInvalidValue);
    if (!event_valid(start) || !event_valid(end) || !start->stream || !end->stream ||
        ((start->flags | end->flags) & cudaEventDisableTiming))
        return set_last_error(cudaErrorInvalidResourceHandle,
                              "cudaEventElapsedTime needs two recorded events with timing");
    if (start->stream->done < start->pos || end->stream->done < end->pos)
        return set_last_error(cudaErrorNotReady, "cudaEventElapsedTime before both events completed");
    *ms = (float)(end->time_ms - start->time_ms);
    return sticky_error();
}
