// The launcher of the host emulation (see emulation.h): emu_launch(name, gridX, gridY, block, sharedBytes, args)
// runs kernel `name` of kernels.cu as cudaLaunchKernel would, args[i] pointing at the i-th parameter's value. Each
// CUDA thread of a block is a fiber; a fiber that waits at a barrier yields to the next one, round robin, so warps
// and blocks behave as if they ran in lockstep, without an OS thread per CUDA thread.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <ucontext.h>
#include <utility>
#include <vector>

#include "kernels.cu"

dim3 threadIdx, blockIdx, blockDim, gridDim;

namespace {
struct Barrier {
    int size, arrived = 0, generation = 0;
};

struct Fiber {
    ucontext_t ctx;
    std::vector<char> stack;
    bool done = false;
};

using Invoker = void (*)(void**);

struct Launch {
    Invoker kernel;
    void** args;
    std::vector<Fiber> fibers;
    std::vector<float> shared;
    Barrier block{0};
    std::vector<Barrier> warps;
    std::vector<float> exchange;
    ucontext_t scheduler;
    int current = 0;
};

Launch* L;
std::mutex one;

void yield() { swapcontext(&L->fibers[L->current].ctx, &L->scheduler); }

void arrive(Barrier& b) {
    int g = b.generation;
    if (++b.arrived == b.size) {
        b.arrived = 0;
        b.generation++;
        return;
    }
    while (b.generation == g) yield();
}

void fiberMain() {
    L->kernel(L->args);
    L->fibers[L->current].done = true;
}

template <typename... A, size_t... I>
void invokeWith(void (*f)(A...), void** args, std::index_sequence<I...>) { f(*static_cast<A*>(args[I])...); }

template <typename... A>
void invoke(void (*f)(A...), void** args) { invokeWith(f, args, std::index_sequence_for<A...>{}); }

const std::map<std::string, Invoker> kernels = {
#define K(name) {#name, [](void** a) { invoke(&name, a); }},
#include "emu_kernels.inc"
#undef K
};
}

float* emu_dynamic_shared() { return L->shared.data(); }

void __syncthreads() { arrive(L->block); }

float __shfl_xor_sync(unsigned, float v, int laneMask) {
    int t = threadIdx.x, w = t / 32, lane = t % 32;
    L->exchange[t] = v;
    arrive(L->warps[w]);
    float r = L->exchange[w * 32 + (lane ^ laneMask)];
    arrive(L->warps[w]);
    return r;
}

// 0 on success, -1 for an unknown kernel, -2 for a block that is not a whole number of warps
extern "C" int emu_launch(const char* name, int gridX, int gridY, int block, long sharedBytes, void** args) {
    auto k = kernels.find(name);
    if (k == kernels.end()) return -1;
    if (block % 32 != 0 || block < 32) return -2;
    std::lock_guard<std::mutex> guard(one);
    auto launch = std::make_unique<Launch>();
    L = launch.get();
    L->kernel = k->second;
    L->args = args;
    L->fibers.resize(block);
    for (auto& f : L->fibers) f.stack.resize(256 * 1024);
    L->exchange.assign(block, 0.f);
    gridDim = dim3{(unsigned) gridX, (unsigned) gridY, 1};
    blockDim = dim3{(unsigned) block, 1, 1};
    for (int by = 0; by < gridY; by++)
        for (int bx = 0; bx < gridX; bx++) {
            blockIdx = dim3{(unsigned) bx, (unsigned) by, 0};
            L->shared.assign(sharedBytes / 4 + 1, std::nanf("")); // unwritten shared memory reads as NaN
            L->block = Barrier{block};
            L->warps.assign(block / 32, Barrier{32});
            for (int t = 0; t < block; t++) {
                Fiber& f = L->fibers[t];
                f.done = false;
                getcontext(&f.ctx);
                f.ctx.uc_stack.ss_sp = f.stack.data();
                f.ctx.uc_stack.ss_size = f.stack.size();
                f.ctx.uc_link = &L->scheduler;
                makecontext(&f.ctx, fiberMain, 0);
            }
            for (int live = block; live > 0;) {
                live = 0;
                for (int t = 0; t < block; t++) {
                    if (L->fibers[t].done) continue;
                    L->current = t;
                    threadIdx = dim3{(unsigned) t, 0, 0};
                    swapcontext(&L->scheduler, &L->fibers[t].ctx);
                    if (!L->fibers[t].done) live++;
                }
            }
        }
    L = nullptr;
    return 0;
}
