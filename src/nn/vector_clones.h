/* Function multiversioning for hot element-wise loops, private to src/nn/.
   The build targets the x86-64-v2 baseline so that one binary runs on every
   node of a cluster, which limits the vectorizer to 4 floats. A function
   marked FER_VECTOR_CLONES is compiled three times (AVX-512, AVX2 + FMA,
   baseline) and the loader picks the widest the CPU runs. C11 mode keeps
   FMA contraction off, so every clone computes the same bits. */
#ifndef FER_NN_VECTOR_CLONES_H
#define FER_NN_VECTOR_CLONES_H

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__) &&     \
    !defined(FER_NO_VECTOR_CLONES)
#define FER_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FER_VECTOR_CLONES
#endif

/* For the small vector helpers that clones call: inlined into each clone,
   they are compiled for its instruction set. */
#define FER_VECTOR_INLINE static inline __attribute__((always_inline))

#endif
