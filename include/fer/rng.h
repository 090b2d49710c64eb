/* Counter-based randomness: every draw is a pure function of a key and a
   counter, so a value depends only on (seed, epoch, sample index, ...) and never
   on which rank computes it, how many ranks there are, or whether the run was
   resumed. */
#ifndef FER_RNG_H
#define FER_RNG_H

#include <stdint.h>

/* splitmix64 finalizer: a bijective 64-bit mix with good avalanche. */
static inline uint64_t fer_mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A key for a stream of draws, derived from up to three counters. */
static inline uint64_t fer_key(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    return fer_mix64(fer_mix64(fer_mix64(seed ^ 0x243f6a8885a308d3ull) ^ a) ^ b) ^ c;
}

/* The counter-th 64-bit draw of a key. */
static inline uint64_t fer_draw64(uint64_t key, uint64_t counter)
{
    return fer_mix64(key ^ fer_mix64(counter + 0x5851f42d4c957f2dull));
}

/* Uniform double in [0, 1), 53 bits. */
static inline double fer_uniform(uint64_t key, uint64_t counter)
{
    return (double)(fer_draw64(key, counter) >> 11) * 0x1.0p-53;
}

/* Uniform double in [lo, hi). */
static inline double fer_uniform_range(uint64_t key, uint64_t counter, double lo, double hi)
{
    return lo + (hi - lo) * fer_uniform(key, counter);
}

/* Streams used by the product, so that two uses of one seed never collide. */
enum {
    FER_STREAM_INIT = 1,      /* weight initialization: (layer, tensor) */
    FER_STREAM_SHUFFLE = 2,   /* epoch permutation: (epoch) */
    FER_STREAM_AUGMENT = 3,   /* augmentation: (epoch, sample) */
    FER_STREAM_DROPOUT = 4,   /* dropout masks: (step, sample, layer) */
    FER_STREAM_SYNTHETIC = 5, /* synthetic data set: (sample) */
    FER_STREAM_MIXUP = 7      /* mixup partner and weight: (epoch, sample) */
};

#endif
