// Lets one index-level body compile as C (CPU backend) and as CUDA device code.
#ifndef HWNAS_HOSTDEVICE_H
#define HWNAS_HOSTDEVICE_H

#include <math.h>

#ifdef __CUDACC__
#define HD_INLINE static __host__ __device__ __forceinline__
#else
#define HD_INLINE static inline
#endif

#endif
