// A host emulation of the CUDA C that kernels.cu uses, for KernelEmulationTest: kernels.cu compiles as C++ with
// this header forced in front (g++ -include emulation.h) and runs on the CPU, each CUDA thread of a block a fiber
// (ucontext) on one OS thread, blocks one after another. __syncthreads is a barrier of the block, a warp shuffle one of
// its 32 lanes around an exchange buffer, __shared__ variables are statics (one block runs at a time). It checks the
// kernels' arithmetic, indexing, synchronisation and the Java side's arguments; not timing, not the memory model of a
// real GPU (it is sequentially consistent here), and not what NVRTC's compiler does differently from g++.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <math.h>
#undef INFINITY

struct dim3 { unsigned x = 1, y = 1, z = 1; };
extern dim3 threadIdx, blockIdx;
extern dim3 blockDim, gridDim;

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define DYNAMIC_SHARED(name) float* name = emu_dynamic_shared()

float* emu_dynamic_shared();
void __syncthreads();
float __shfl_xor_sync(unsigned mask, float v, int laneMask);

inline int atomicMin(int* address, int v) { // one OS thread: a plain read-modify-write is atomic
    int old = *address;
    if (v < old) *address = v;
    return old;
}

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
using std::max;
using std::min;
