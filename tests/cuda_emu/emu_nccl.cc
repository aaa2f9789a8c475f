// cuda-emu: NCCL for ranks that are processes of one machine (as under
// mpirun), over POSIX shared memory.
//
// Bootstrap: ncclGetUniqueId puts a fresh random shared-memory name in the
// id; every rank's ncclCommInitRank opens (or creates) that segment,
// registers its rank and waits, bounded by CUDA_EMU_NCCL_TIMEOUT seconds
// (default 120), until all have joined. The last to join unlinks the name;
// a rank that gives up waiting marks the segment abandoned (so the others
// fail too, instead of waiting for a communicator that will never work)
// and unlinks it. Nothing is left in /dev/shm either way.
//
// Collectives: the data moves through one fixed-size slot per rank in the
// segment, chunk by chunk. Each chunk is a round of a sequence-numbered
// protocol (exchange_round): wait until every rank has departed the previous
// round (so my slot is free), write my part into my slot, announce `arrived`,
// wait until every rank has arrived, read the slots, announce `departed`.
// Reductions are computed by every rank over the slots in rank order
// 0, 1, ..., n-1, so every rank gets bit-identical results whatever the
// timing. ncclAvg is that sum divided by the number of ranks, in the
// element type (NCCL documents "a sum across all ranks, divided by the
// number of ranks"); with 2 ranks, (a + b) / 2 equals (a + b) * 0.5 bit for
// bit. Integer sums and products wrap; half and bfloat16 are computed in
// float and rounded back after every step.
//
// The first round of every collective also compares what each rank called
// (collective, count, type, op, root): a mismatch, which hangs or corrupts
// data under NCCL, is a fault naming both calls here.
#include <errno.h>
#include <fcntl.h>
#include <nccl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <type_traits>

#include "emu_internal.h"

namespace {

constexpr int kMaxRanks = 64;
constexpr size_t kSlotBytes = size_t(256) << 10;  // per rank; a multiple of every type size
constexpr char kNamePrefix[] = "/cuda-emu-nccl-";
constexpr int kDefaultTimeoutSeconds = 120;

// What every rank of a collective must agree on.
enum CallKind : int32_t { kAllReduce = 1, kBroadcast, kReduce, kAllGather };
struct CallShape {
    int32_t kind, datatype, op, root;  // op and root are -1 where they do not apply
    uint64_t count;
};

// One cache line per rank, so ranks spinning on each other's counters do
// not also fight over their own.
struct alignas(64) RankControl {
    std::atomic<uint64_t> arrived;   // last round whose slot data this rank has published
    std::atomic<uint64_t> departed;  // last round this rank has finished reading
    CallShape shape;                 // written before `arrived`, read after it
};

enum JoinState : int32_t { kJoining = 0, kComplete, kAbandoned, kUnlinking };

// The segment starts as zero bytes (ftruncate), which is the initial state
// of every field. Lock-free atomics are address-free, so they work across
// the processes' different mappings.
struct Segment {
    std::atomic<int32_t> nranks;  // set by the first rank to join
    std::atomic<int32_t> joined;
    std::atomic<int32_t> state;  // JoinState
    std::atomic<uint32_t> rank_taken[kMaxRanks];
    RankControl control[kMaxRanks];
};
static_assert(std::atomic<uint64_t>::is_always_lock_free, "process-shared atomics must be lock-free");
static_assert(std::atomic<int32_t>::is_always_lock_free, "process-shared atomics must be lock-free");

constexpr size_t kSlotsOffset = (sizeof(Segment) + 4095) / 4096 * 4096;
// Sized for kMaxRanks whatever nranks is, so that every rank truncates to the
// same size; tmpfs only allocates the pages the ranks touch.
constexpr size_t kSegmentBytes = kSlotsOffset + kMaxRanks * kSlotBytes;

thread_local char t_last_error[512];
thread_local int t_group_depth;

}  // namespace

struct ncclComm {
    Segment* seg;
    int nranks, rank;
    int timeout_s;
    uint64_t round;  // rounds this rank has run; equal on every rank between collectives
    ncclResult_t async_error;
};

namespace {

// Prints "cuda-emu: MESSAGE" and keeps it for ncclGetLastError; returns r.
__attribute__((format(printf, 2, 3))) ncclResult_t report(ncclResult_t r, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t_last_error, sizeof t_last_error, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cuda-emu: %s\n", t_last_error);
    return r;
}

size_t type_size(int32_t t) {
    static const size_t sizes[ncclNumTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2};
    return t >= 0 && t < ncclNumTypes ? sizes[t] : 0;
}

const char* type_name(int32_t t) {
    static const char* const names[ncclNumTypes] = {
        "ncclInt8", "ncclUint8", "ncclInt32", "ncclUint32",  "ncclInt64",
        "ncclUint64", "ncclFloat16", "ncclFloat32", "ncclFloat64", "ncclBfloat16"};
    return t >= 0 && t < ncclNumTypes ? names[t] : "an invalid type";
}

const char* op_name(int32_t op) {
    static const char* const names[ncclNumOps] = {"ncclSum", "ncclProd", "ncclMax", "ncclMin",
                                                  "ncclAvg"};
    return op >= 0 && op < ncclNumOps ? names[op] : "an invalid op";
}

const char* kind_name(int32_t kind) {
    switch (kind) {
        case kAllReduce: return "ncclAllReduce";
        case kBroadcast: return "ncclBroadcast";
        case kReduce: return "ncclReduce";
        default: return "ncclAllGather";
    }
}

std::string describe(const CallShape& s) {
    char buf[160];
    int n = snprintf(buf, sizeof buf, "%s(count %llu, %s", kind_name(s.kind),
                     (unsigned long long)s.count, type_name(s.datatype));
    if (s.op >= 0) n += snprintf(buf + n, sizeof buf - n, ", %s", op_name(s.op));
    if (s.root >= 0) n += snprintf(buf + n, sizeof buf - n, ", root %d", s.root);
    snprintf(buf + n, sizeof buf - n, ")");
    return buf;
}

int timeout_seconds() {
    const char* v = getenv("CUDA_EMU_NCCL_TIMEOUT");
    if (!v || !*v) return kDefaultTimeoutSeconds;
    char* end;
    long s = strtol(v, &end, 10);
    if (*end == 0 && s > 0 && s <= 86400) return (int)s;
    fprintf(stderr, "cuda-emu: CUDA_EMU_NCCL_TIMEOUT=%s is not a number of seconds in 1..86400; using %d\n",
            v, kDefaultTimeoutSeconds);
    return kDefaultTimeoutSeconds;
}

using Clock = std::chrono::steady_clock;

// Waits until ready() or the deadline; returns ready(). Spins briefly (a
// peer that is on its way arrives within microseconds), then sleeps in
// growing steps up to 1 ms, so waiting ranks leave the cores to the ones
// still working.
template <class Ready>
bool wait_until(Ready ready, Clock::time_point deadline) {
    for (int i = 0; i < 200; i++) {
        if (ready()) return true;
        std::this_thread::yield();
    }
    auto nap = std::chrono::microseconds(20);
    while (!ready()) {
        if (Clock::now() >= deadline) return ready();
        std::this_thread::sleep_for(nap);
        nap = std::min(nap * 2, std::chrono::microseconds(1000));
    }
    return true;
}

char* slot(const ncclComm* comm, int rank) {
    return reinterpret_cast<char*>(comm->seg) + kSlotsOffset + (size_t)rank * kSlotBytes;
}

// ---------------------------------------------------------------- bootstrap

// The segment name in an id, or NULL when the id was not made by
// ncclGetUniqueId.
const char* id_name(const ncclUniqueId& id) {
    if (!memchr(id.internal, 0, sizeof id.internal)) return NULL;
    return strncmp(id.internal, kNamePrefix, sizeof kNamePrefix - 1) == 0 ? id.internal : NULL;
}

ncclResult_t map_segment(const char* name, Segment** out) {
    int fd = shm_open(name, O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return report(ncclSystemError, "ncclCommInitRank: shm_open(%s): %s", name, strerror(errno));
    // Every rank sets the same size, so the order of these calls does not
    // matter, and the bytes a first call adds read as zero.
    if (ftruncate(fd, (off_t)kSegmentBytes) != 0) {
        int e = errno;
        close(fd);
        return report(ncclSystemError, "ncclCommInitRank: ftruncate(%s, %zu): %s", name, kSegmentBytes,
                      strerror(e));
    }
    void* p = mmap(NULL, kSegmentBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    close(fd);
    if (p == MAP_FAILED)
        return report(ncclSystemError, "ncclCommInitRank: mmap(%s): %s", name, strerror(e));
    *out = static_cast<Segment*>(p);
    return ncclSuccess;
}

// Registers `rank` and waits until all nranks have joined. The last to join
// marks the segment complete and unlinks its name (every rank has it mapped
// by then); a rank that waits too long marks it abandoned and unlinks it,
// so a late rank creates a fresh segment and times out in turn.
ncclResult_t join(Segment* seg, const char* name, int nranks, int rank, int timeout_s) {
    int32_t expected = 0;
    if (!seg->nranks.compare_exchange_strong(expected, nranks) && expected != nranks)
        return report(ncclInvalidArgument, "ncclCommInitRank: rank %d was given %d ranks, another rank %d",
                      rank, nranks, expected);
    if (seg->rank_taken[rank].exchange(1) != 0)
        return report(ncclInvalidArgument,
                      "ncclCommInitRank: rank %d joined twice (two processes passed the same rank)", rank);
    if (seg->joined.fetch_add(1) + 1 == nranks) {
        // The name goes before the state says complete: no rank returns while
        // the segment can still be opened by name.
        int32_t joining = kJoining;
        if (seg->state.compare_exchange_strong(joining, kUnlinking)) {
            shm_unlink(name);
            seg->state.store(kComplete);
        }
    }
    auto settled_state = [seg] {
        int32_t s = seg->state.load();
        return s == kComplete || s == kAbandoned;
    };
    bool settled = wait_until(settled_state, Clock::now() + std::chrono::seconds(timeout_s));
    int32_t joining = kJoining;
    if (!settled && seg->state.compare_exchange_strong(joining, kAbandoned))
        shm_unlink(name);
    else if (!settled)  // the last rank is unlinking right now
        settled = wait_until(settled_state, Clock::now() + std::chrono::seconds(1));
    if (seg->state.load() == kComplete) return ncclSuccess;
    if (settled)
        return report(ncclSystemError,
                      "ncclCommInitRank: rank %d of %d: another rank gave up waiting for the others "
                      "(CUDA_EMU_NCCL_TIMEOUT)",
                      rank, nranks);
    return report(ncclSystemError,
                  "ncclCommInitRank: rank %d of %d: only %d of the %d ranks joined within %d s "
                  "(set CUDA_EMU_NCCL_TIMEOUT to wait longer)",
                  rank, nranks, (int)seg->joined.load(), nranks, timeout_s);
}

// ---------------------------------------------------------------- arithmetic

template <class T>
struct Plain {  // types the host computes in directly
    using Value = T;
    static constexpr size_t kBytes = sizeof(T);
    static Value load(const char* p) {
        T v;
        memcpy(&v, p, sizeof v);
        return v;
    }
    static void store(char* p, Value v) { memcpy(p, &v, sizeof v); }
};

struct Bfloat16 {  // computed in float, rounded to nearest even on store
    using Value = float;
    static constexpr size_t kBytes = 2;
    static Value load(const char* p) {
        uint16_t h;
        memcpy(&h, p, 2);
        uint32_t bits = (uint32_t)h << 16;
        float v;
        memcpy(&v, &bits, 4);
        return v;
    }
    static void store(char* p, Value v) {
        uint32_t bits;
        memcpy(&bits, &v, 4);
        uint16_t h = (bits & 0x7fffffffu) > 0x7f800000u
                         ? (uint16_t)((bits >> 16) | 0x40u)  // NaN stays a (quiet) NaN
                         : (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
        memcpy(p, &h, 2);
    }
};

#ifdef __FLT16_MAX__
struct Half {  // computed in float, rounded by the compiler's _Float16 conversion
    using Value = float;
    static constexpr size_t kBytes = 2;
    static Value load(const char* p) {
        _Float16 h;
        memcpy(&h, p, 2);
        return (float)h;
    }
    static void store(char* p, Value v) {
        _Float16 h = (_Float16)v;
        memcpy(p, &h, 2);
    }
};
#endif

template <class V>
V combine(int32_t op, V a, V b) {
    if (op == ncclMax) return b > a ? b : a;
    if (op == ncclMin) return b < a ? b : a;
    if constexpr (std::is_integral_v<V>) {  // wrap instead of overflowing
        using U = std::make_unsigned_t<V>;
        return op == ncclProd ? (V)(U)((U)a * (U)b) : (V)(U)((U)a + (U)b);
    } else {
        return op == ncclProd ? a * b : a + b;
    }
}

// out[i] = slot0[i] op slot1[i] op ... in rank order (then / n for ncclAvg),
// rounded to the element type after every step.
template <class Codec>
void reduce_slots(const ncclComm* comm, int32_t op, size_t elems, char* out) {
    const size_t w = Codec::kBytes;
    const char* first = slot(comm, 0);
    for (size_t i = 0; i < elems; i++) Codec::store(out + i * w, Codec::load(first + i * w));
    for (int r = 1; r < comm->nranks; r++) {
        const char* in = slot(comm, r);
        for (size_t i = 0; i < elems; i++)
            Codec::store(out + i * w, combine(op, Codec::load(out + i * w), Codec::load(in + i * w)));
    }
    if (op != ncclAvg) return;
    using V = typename Codec::Value;
    for (size_t i = 0; i < elems; i++)
        Codec::store(out + i * w, (V)(Codec::load(out + i * w) / (V)comm->nranks));
}

void reduce_chunk(const ncclComm* comm, const CallShape& s, size_t bytes, char* out) {
    size_t elems = bytes / type_size(s.datatype);
    switch (s.datatype) {
        case ncclInt8: return reduce_slots<Plain<int8_t>>(comm, s.op, elems, out);
        case ncclUint8: return reduce_slots<Plain<uint8_t>>(comm, s.op, elems, out);
        case ncclInt32: return reduce_slots<Plain<int32_t>>(comm, s.op, elems, out);
        case ncclUint32: return reduce_slots<Plain<uint32_t>>(comm, s.op, elems, out);
        case ncclInt64: return reduce_slots<Plain<int64_t>>(comm, s.op, elems, out);
        case ncclUint64: return reduce_slots<Plain<uint64_t>>(comm, s.op, elems, out);
#ifdef __FLT16_MAX__
        case ncclFloat16: return reduce_slots<Half>(comm, s.op, elems, out);
#endif
        case ncclFloat32: return reduce_slots<Plain<float>>(comm, s.op, elems, out);
        case ncclFloat64: return reduce_slots<Plain<double>>(comm, s.op, elems, out);
        case ncclBfloat16: return reduce_slots<Bfloat16>(comm, s.op, elems, out);
    }
}

// ---------------------------------------------------------------- the exchange

// Waits until `field` of every rank has reached `round`; returns the first
// rank that has not by the communicator's timeout, or -1.
int wait_for_ranks(const ncclComm* comm, std::atomic<uint64_t> RankControl::*field, uint64_t round) {
    auto deadline = Clock::now() + std::chrono::seconds(comm->timeout_s);
    for (int r = 0; r < comm->nranks; r++) {
        const std::atomic<uint64_t>& counter = comm->seg->control[r].*field;
        if (!wait_until([&] { return counter.load(std::memory_order_acquire) >= round; }, deadline))
            return r;
    }
    return -1;
}

bool check_shapes(const ncclComm* comm, const CallShape& mine) {
    for (int r = 0; r < comm->nranks; r++) {
        const CallShape& theirs = comm->seg->control[r].shape;
        if (memcmp(&theirs, &mine, sizeof mine) == 0) continue;
        cuda_emu::fault(cudaErrorLaunchFailure, "%s: rank %d called %s, rank %d called %s (a mismatch)",
                        kind_name(mine.kind), comm->rank, describe(mine).c_str(), r,
                        describe(theirs).c_str());
        return false;
    }
    return true;
}

void rank_missing(ncclComm* comm, const char* what, int r) {
    comm->async_error = ncclRemoteError;
    cuda_emu::fault(cudaErrorLaunchFailure, "%s: rank %d did not arrive within %d s", what, r,
                    comm->timeout_s);
}

// One round: stage() fills my slot, consume() reads the slots. Returns false
// when the collective must stop (a rank did not come, or the ranks called
// different collectives); the fault is recorded then.
template <class Stage, class Consume>
bool exchange_round(ncclComm* comm, const CallShape& shape, bool first, Stage stage, Consume consume) {
    const char* what = kind_name(shape.kind);
    uint64_t round = ++comm->round;
    RankControl& mine = comm->seg->control[comm->rank];
    int missing = wait_for_ranks(comm, &RankControl::departed, round - 1);
    if (missing >= 0) return rank_missing(comm, what, missing), false;
    stage(slot(comm, comm->rank));
    mine.shape = shape;
    mine.arrived.store(round, std::memory_order_release);
    missing = wait_for_ranks(comm, &RankControl::arrived, round);
    if (missing >= 0) return rank_missing(comm, what, missing), false;
    // Every rank sees the same shapes, so all of them stop after this round.
    bool same = !first || check_shapes(comm, shape);
    if (same) consume();
    mine.departed.store(round, std::memory_order_release);
    return same;
}

struct Call {
    CallShape shape;
    const char* send;
    char* recv;
};

// Runs as stream work: device memory is accessible here.
void run_call(ncclComm* comm, const Call& c) {
    const CallShape& s = c.shape;
    if (comm->async_error != ncclSuccess) {
        cuda_emu::fault(cudaErrorLaunchFailure, "%s: the communicator failed earlier", kind_name(s.kind));
        return;
    }
    const size_t total = s.count * type_size(s.datatype);
    const bool sends = s.kind != kBroadcast || comm->rank == s.root;
    size_t off = 0;
    do {  // at least one round, so that even count 0 is checked across the ranks
        size_t len = std::min(kSlotBytes, total - off);
        auto stage = [&](char* mine) {
            if (sends && len) memcpy(mine, c.send + off, len);  // count 0 may pass NULL
        };
        auto consume = [&] {
            if (len == 0) return;
            if (s.kind == kAllReduce || (s.kind == kReduce && comm->rank == s.root))
                reduce_chunk(comm, s, len, c.recv + off);
            else if (s.kind == kBroadcast)
                memcpy(c.recv + off, slot(comm, s.root), len);
            else if (s.kind == kAllGather)
                for (int r = 0; r < comm->nranks; r++) memcpy(c.recv + r * total + off, slot(comm, r), len);
        };
        if (!exchange_round(comm, s, off == 0, stage, consume)) return;
        off += len;
    } while (off < total);
}

// ---------------------------------------------------------------- call checks

ncclResult_t check_buffer(const char* what, const char* which, const void* p, size_t bytes) {
    if (bytes == 0 || cuda_emu::device_range_ok(p, bytes)) return ncclSuccess;
    return report(ncclInvalidArgument, "%s: %s (%zu bytes at %p): %s; NCCL buffers must be device memory",
                  what, which, bytes, p, cuda_emu::describe_address(p, bytes).c_str());
}

ncclResult_t check_shape(const ncclComm* comm, const CallShape& s) {
    const char* what = kind_name(s.kind);
    size_t size = type_size(s.datatype);
    if (!size) return report(ncclInvalidArgument, "%s: datatype %d is not an ncclDataType_t", what, s.datatype);
    bool reduces = s.kind == kAllReduce || s.kind == kReduce;
    if (reduces && (s.op < 0 || s.op >= ncclNumOps))
        return report(ncclInvalidArgument, "%s: op %d is not an ncclRedOp_t", what, s.op);
#ifndef __FLT16_MAX__
    if (reduces && s.datatype == ncclFloat16)
        return report(ncclInvalidArgument, "%s: ncclFloat16 reductions need a compiler with _Float16", what);
#endif
    bool rooted = s.kind == kBroadcast || s.kind == kReduce;
    if (rooted && (s.root < 0 || s.root >= comm->nranks))
        return report(ncclInvalidArgument, "%s: root %d is not a rank of this %d-rank communicator", what,
                      s.root, comm->nranks);
    size_t ranks = s.kind == kAllGather ? (size_t)comm->nranks : 1;
    if (s.count > SIZE_MAX / size / ranks)
        return report(ncclInvalidArgument, "%s: count %llu of %s overflows the address space", what,
                      (unsigned long long)s.count, type_name(s.datatype));
    return ncclSuccess;
}

ncclResult_t check_call(const ncclComm* comm, const Call& c, cudaStream_t stream) {
    const CallShape& s = c.shape;
    const char* what = kind_name(s.kind);
    if (!comm) return report(ncclInvalidArgument, "%s: comm is NULL", what);
    ncclResult_t r = check_shape(comm, s);
    if (r != ncclSuccess) return r;
    if (!cuda_emu::stream_valid(stream))
        return report(ncclInvalidArgument, "%s: stream %p is not a live stream", what, (void*)stream);
    size_t bytes = s.count * type_size(s.datatype);
    bool is_root = comm->rank == s.root;
    bool reads_send = s.kind != kBroadcast || is_root;
    bool writes_recv = s.kind != kReduce || is_root;
    size_t recv_bytes = s.kind == kAllGather ? bytes * comm->nranks : bytes;
    if (reads_send && (r = check_buffer(what, "sendbuff", c.send, bytes)) != ncclSuccess) return r;
    if (writes_recv && (r = check_buffer(what, "recvbuff", c.recv, recv_bytes)) != ncclSuccess) return r;
    return ncclSuccess;
}

ncclResult_t submit(ncclComm* comm, const Call& c, cudaStream_t stream) {
    cuda_emu::ApiLock lock;
    ncclResult_t r = check_call(comm, c, stream);
    if (r != ncclSuccess) return r;
    const char* what = kind_name(c.shape.kind);
    cudaError_t e = cuda_emu::enqueue_work(stream, what, [comm, c] { run_call(comm, c); });
    if (e != cudaSuccess)
        return report(ncclUnhandledCudaError, "%s: the stream refused the collective: %s", what,
                      cudaGetErrorString(e));
    // Run it now, not when the stream is next waited for: collectives then
    // execute in program order on every rank. Lazily, a rank that queues a
    // collective and then blocks in an MPI call (which hwnas does between a
    // collective and its stream's synchronization) would wait for a peer
    // that is itself waiting inside the collective for it: a deadlock no
    // GPU has, since there the collective runs while the host is in MPI.
    // An error shows on the stream, as a failed NCCL kernel's would.
    (void)cuda_emu::run_stream(stream);
    return ncclSuccess;
}

CallShape shape_of(CallKind kind, size_t count, ncclDataType_t type, int op, int root) {
    CallShape s;
    memset(&s, 0, sizeof s);  // compared bytewise across the ranks
    s.kind = kind, s.datatype = (int32_t)type, s.op = op, s.root = root, s.count = count;
    return s;
}

}  // namespace

// ---------------------------------------------------------------- API

extern "C" {

ncclResult_t ncclGetVersion(int* version) {
    if (!version) return report(ncclInvalidArgument, "ncclGetVersion: version is NULL");
    *version = NCCL_VERSION_CODE;
    return ncclSuccess;
}

ncclResult_t ncclGetUniqueId(ncclUniqueId* id) {
    if (!id) return report(ncclInvalidArgument, "ncclGetUniqueId: uniqueId is NULL");
    unsigned char rnd[12];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return report(ncclSystemError, "ncclGetUniqueId: getrandom: %s", strerror(errno));
    memset(id, 0, sizeof *id);
    int n = snprintf(id->internal, sizeof id->internal, "%s%d-", kNamePrefix, (int)getpid());
    for (unsigned char b : rnd) n += snprintf(id->internal + n, sizeof id->internal - n, "%02x", b);
    return ncclSuccess;
}

ncclResult_t ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId id, int rank) {
    if (!comm) return report(ncclInvalidArgument, "ncclCommInitRank: comm is NULL");
    *comm = NULL;
    if (nranks < 1 || nranks > kMaxRanks)
        return report(ncclInvalidArgument, "ncclCommInitRank: nranks %d is not in 1..%d", nranks, kMaxRanks);
    if (rank < 0 || rank >= nranks)
        return report(ncclInvalidArgument, "ncclCommInitRank: rank %d is not in 0..%d", rank, nranks - 1);
    const char* name = id_name(id);
    if (!name) return report(ncclInvalidArgument, "ncclCommInitRank: the id was not made by ncclGetUniqueId");
    int timeout_s = timeout_seconds();
    Segment* seg = NULL;
    ncclResult_t r = map_segment(name, &seg);
    if (r != ncclSuccess) return r;
    r = join(seg, name, nranks, rank, timeout_s);
    if (r != ncclSuccess) {
        munmap(seg, kSegmentBytes);
        return r;
    }
    *comm = new ncclComm{seg, nranks, rank, timeout_s, 0, ncclSuccess};
    return ncclSuccess;
}

// Every collective ran when it was called, so nothing is pending. The peers
// keep their own mappings: the segment lives until the last one unmaps it
// (its name is gone since everyone joined).
ncclResult_t ncclCommDestroy(ncclComm_t comm) {
    if (!comm) return ncclSuccess;
    munmap(comm->seg, kSegmentBytes);
    delete comm;
    return ncclSuccess;
}

ncclResult_t ncclCommAbort(ncclComm_t comm) { return ncclCommDestroy(comm); }

ncclResult_t ncclCommCount(const ncclComm_t comm, int* count) {
    if (!comm || !count) return report(ncclInvalidArgument, "ncclCommCount: NULL argument");
    *count = comm->nranks;
    return ncclSuccess;
}

ncclResult_t ncclCommUserRank(const ncclComm_t comm, int* rank) {
    if (!comm || !rank) return report(ncclInvalidArgument, "ncclCommUserRank: NULL argument");
    *rank = comm->rank;
    return ncclSuccess;
}

ncclResult_t ncclCommGetAsyncError(ncclComm_t comm, ncclResult_t* asyncError) {
    if (!comm || !asyncError) return report(ncclInvalidArgument, "ncclCommGetAsyncError: NULL argument");
    *asyncError = comm->async_error;
    return ncclSuccess;
}

const char* ncclGetErrorString(ncclResult_t result) {
    switch (result) {
        case ncclSuccess: return "no error";
        case ncclUnhandledCudaError: return "unhandled cuda error (run with NCCL_DEBUG=INFO for details)";
        case ncclSystemError: return "unhandled system error (run with NCCL_DEBUG=INFO for details)";
        case ncclInternalError: return "internal error - please report this issue to the NCCL developers";
        case ncclInvalidArgument: return "invalid argument (run with NCCL_DEBUG=WARN for details)";
        case ncclInvalidUsage: return "invalid usage (run with NCCL_DEBUG=WARN for details)";
        case ncclRemoteError: return "remote process exited or there was a network error";
        case ncclInProgress: return "NCCL operation in progress";
        default: return "unknown result code";
    }
}

// The emulator keeps the last message of this thread (every one is also on
// stderr), whatever the communicator.
const char* ncclGetLastError(ncclComm_t comm) { return t_last_error; }

ncclResult_t ncclAllReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           ncclRedOp_t op, ncclComm_t comm, cudaStream_t stream) {
    Call c{shape_of(kAllReduce, count, datatype, op, -1), (const char*)sendbuff, (char*)recvbuff};
    return submit(comm, c, stream);
}

ncclResult_t ncclBroadcast(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                           int root, ncclComm_t comm, cudaStream_t stream) {
    Call c{shape_of(kBroadcast, count, datatype, -1, root), (const char*)sendbuff, (char*)recvbuff};
    return submit(comm, c, stream);
}

ncclResult_t ncclBcast(void* buff, size_t count, ncclDataType_t datatype, int root, ncclComm_t comm,
                       cudaStream_t stream) {
    return ncclBroadcast(buff, buff, count, datatype, root, comm, stream);
}

ncclResult_t ncclReduce(const void* sendbuff, void* recvbuff, size_t count, ncclDataType_t datatype,
                        ncclRedOp_t op, int root, ncclComm_t comm, cudaStream_t stream) {
    Call c{shape_of(kReduce, count, datatype, op, root), (const char*)sendbuff, (char*)recvbuff};
    return submit(comm, c, stream);
}

ncclResult_t ncclAllGather(const void* sendbuff, void* recvbuff, size_t sendcount, ncclDataType_t datatype,
                           ncclComm_t comm, cudaStream_t stream) {
    Call c{shape_of(kAllGather, sendcount, datatype, -1, -1), (const char*)sendbuff, (char*)recvbuff};
    return submit(comm, c, stream);
}

// Every collective runs when it is called, so a group needs no deferral to
// keep program order; only the nesting is checked.
ncclResult_t ncclGroupStart(void) {
    t_group_depth++;
    return ncclSuccess;
}

ncclResult_t ncclGroupEnd(void) {
    if (t_group_depth == 0) return report(ncclInvalidUsage, "ncclGroupEnd: no ncclGroupStart to end");
    t_group_depth--;
    return ncclSuccess;
}

}  // extern "C"
