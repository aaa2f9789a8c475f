// Deterministic random numbers. Everything random in hwnas (path sampling,
// init, shuffling, augmentation, search) draws from an explicit Rng so a run
// is reproducible from its seed and resumable from saved state.
#ifndef HWNAS_RNG_H
#define HWNAS_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct Rng {
    uint64_t s[4];  // xoshiro256** state
} Rng;

// splitmix64: also used to derive independent streams from (seed, a, b, ...).
static inline uint64_t splitmix64(uint64_t* x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// A stream keyed by a seed and up to three integers (e.g. seed, epoch, sample),
// so per-sample randomness does not depend on thread or worker counts.
static inline void rng_seed(Rng* r, uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    uint64_t x = seed ^ (a * 0xD1B54A32D192ED03ull) ^ (b * 0xABC98388FB8FAC03ull) ^
                 (c * 0x8CB92BA72F3D8DD7ull);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rng_next(Rng* r) {
    uint64_t* s = r->s;
    uint64_t t = s[1] << 17;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

// Uniform in [0, 1) with 24 bits (exactly representable as float).
static inline float rng_uniform(Rng* r) { return (float)(rng_next(r) >> 40) * (1.0f / 16777216.0f); }

// Uniform in [0, 1) with 53 bits.
static inline double rng_uniform_double(Rng* r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

// Uniform integer in [0, n), n > 0, without modulo bias (Lemire).
static inline uint32_t rng_below(Rng* r, uint32_t n) {
    uint64_t m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(-n) % n;
        while (low < threshold) {
            m = (uint64_t)(uint32_t)(rng_next(r) >> 32) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

// Standard normal (Box-Muller; uses two draws).
float rng_normal(Rng* r);

#ifdef __cplusplus
}
#endif
#endif
