// Fovea's CUDA kernels: what neither cuBLAS nor cuDNN provides. Compiled at first use by NVRTC (see Kernels.java),
// float32 throughout; each kernel has the CPU backend's semantics (Backend.java documents them) and is launched from
// CudaBackend.java with a grid-stride loop or one block (or warp) per row. Deterministic: no float atomics, every
// reduction in a fixed order.

#ifndef DYNAMIC_SHARED // the host emulation of the tests (KernelEmulationTest) defines its own
#define DYNAMIC_SHARED(name) extern __shared__ float name[]
#endif

#define WARP 32
#define MAX_DIMS 8
#define INFINITY __int_as_float(0x7f800000)

struct Dims { int rank; int size[MAX_DIMS]; int stride[MAX_DIMS]; };

__device__ __forceinline__ float warpSum(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warpMax(float v) {
    for (int o = WARP / 2; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum (or max) over a block of blockDim.x threads, a multiple of 32 up to 1024; every thread gets the result.
__device__ float blockReduce(float v, bool isMax) {
    __shared__ float part[32];
    __shared__ float result;
    int lane = threadIdx.x % WARP, w = threadIdx.x / WARP, nw = (blockDim.x + WARP - 1) / WARP;
    v = isMax ? warpMax(v) : warpSum(v);
    __syncthreads();
    if (lane == 0) part[w] = v;
    __syncthreads();
    if (w == 0) {
        float x = lane < nw ? part[lane] : (isMax ? -INFINITY : 0.f);
        x = isMax ? warpMax(x) : warpSum(x);
        if (lane == 0) result = x;
    }
    __syncthreads();
    return result;
}

#define GRID_STRIDE(i, n) for (long i = (long) blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long) blockDim.x * gridDim.x)

// ------------------------------------------------------------------ memory and element-wise

extern "C" __global__ void fill(float* x, float v, long n) { GRID_STRIDE(i, n) x[i] = v; }

// kind: 0 add, 1 mul, 2 div; b repeats every nb elements (a bias broadcast over the leading axes)
extern "C" __global__ void binary(int kind, const float* a, const float* b, float* out, long n, long nb) {
    GRID_STRIDE(i, n) {
        float x = a[i], y = b[i % nb];
        out[i] = kind == 0 ? x + y : kind == 1 ? x * y : x / y;
    }
}

// y[n, c, :] += bias[c] (a convolution's bias over [N, C, H·W])
extern "C" __global__ void addChannelBias(float* y, const float* bias, int c, long hw, long n) {
    GRID_STRIDE(i, n) y[i] += bias[(i / hw) % c];
}

extern "C" __global__ void scale(const float* x, float alpha, float* out, long n) { GRID_STRIDE(i, n) out[i] = alpha * x[i]; }

extern "C" __global__ void axpy(float alpha, const float* x, float* y, long n) { GRID_STRIDE(i, n) y[i] += alpha * x[i]; }

// out[r] = sum of x[r, 0..cols): one block per row
extern "C" __global__ void rowSum(const float* x, float* out, int rows, int cols) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        float s = 0.f;
        for (int j = threadIdx.x; j < cols; j += blockDim.x) s += x[(long) r * cols + j];
        s = blockReduce(s, false);
        if (threadIdx.x == 0) out[r] = s;
    }
}

// out[j] = sum over r of x[r, j]: a thread per column, rows in order
extern "C" __global__ void colSum(const float* x, float* out, int rows, int cols) {
    GRID_STRIDE(j, cols) {
        float s = 0.f;
        for (int r = 0; r < rows; r++) s += x[(long) r * cols + j];
        out[j] = s;
    }
}

// out (row-major, shape d.size) ← x, where d.stride holds x's stride for each out axis
extern "C" __global__ void permute(const float* x, float* out, Dims d, long n) {
    GRID_STRIDE(i, n) {
        long rem = i, src = 0;
        for (int a = d.rank - 1; a >= 0; a--) {
            long c = rem % d.size[a];
            rem /= d.size[a];
            src += c * d.stride[a];
        }
        out[i] = x[src];
    }
}

// part [outer, partLen, inner] ↔ whole [outer, wholeLen, inner] at offset start along the middle axis
extern "C" __global__ void sliceCopy(float* whole, float* part, long outer, int partLen, int wholeLen, long inner, int start, int toWhole) {
    long n = outer * partLen * inner;
    GRID_STRIDE(i, n) {
        long in = i % inner, rest = i / inner;
        long p = rest % partLen, o = rest / partLen;
        long w = (o * wholeLen + start + p) * inner + in;
        if (toWhole) whole[w] = part[i]; else part[i] = whole[w];
    }
}

// Index checks: the first bad position (lowest) lands in *bad (initialised to INT_MAX by the host).
__device__ __forceinline__ int checkedIndex(float f, int limit, int pos, int* bad) {
    int r = (int) f;
    if ((float) r != f || r < 0 || r >= limit) { atomicMin(bad, pos); return -1; }
    return r;
}

// out[i, :] = table[idx[i], :]
extern "C" __global__ void gatherRows(const float* table, const float* idx, float* out, int n, int d, int rows, int* bad) {
    long total = (long) n * d;
    GRID_STRIDE(e, total) {
        int i = (int) (e / d), j = (int) (e % d);
        int r = checkedIndex(idx[i], rows, i, bad);
        out[e] = r < 0 ? 0.f : table[(long) r * d + j];
    }
}

// table[idx[i], :] += src[i, :], a thread per column walking the indices in order (repeats accumulate, no atomics)
extern "C" __global__ void scatterAddRows(const float* src, const float* idx, float* table, int n, int d, int rows, int* bad) {
    GRID_STRIDE(j, d) {
        for (int i = 0; i < n; i++) {
            int r = checkedIndex(idx[i], rows, i, bad);
            if (r >= 0) table[(long) r * d + j] += src[(long) i * d + j];
        }
    }
}

// ------------------------------------------------------------------ activations

#define LECUN_A 1.7159f
#define LECUN_S (2.f / 3.f)
#define SQRT_2_OVER_PI 0.7978845608028654f
#define INV_SQRT_2 0.7071067811865476f
#define INV_SQRT_2PI 0.3989422804014327f

// kind: Activation.ordinal(): 0 relu, 1 sigmoid, 2 tanh, 3 gelu (erf), 4 gelu (tanh), 5 LeCun's scaled tanh
__device__ __forceinline__ float act(int kind, float x) {
    switch (kind) {
        case 0: return x > 0.f ? x : 0.f;
        case 1: return 1.f / (1.f + expf(-x));
        case 2: return tanhf(x);
        case 3: return 0.5f * x * (1.f + erff(x * INV_SQRT_2));
        case 4: return 0.5f * x * (1.f + tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
        default: return LECUN_A * tanhf(LECUN_S * x);
    }
}

__device__ __forceinline__ float actGrad(int kind, float x, float y) {
    switch (kind) {
        case 0: return x > 0.f ? 1.f : 0.f;
        case 1: return y * (1.f - y);
        case 2: return 1.f - y * y;
        case 3: return 0.5f * (1.f + erff(x * INV_SQRT_2)) + x * expf(-0.5f * x * x) * INV_SQRT_2PI;
        case 4: {
            float t = tanhf(SQRT_2_OVER_PI * (x + 0.044715f * x * x * x));
            return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * SQRT_2_OVER_PI * (1.f + 3.f * 0.044715f * x * x);
        }
        default: { float t = tanhf(LECUN_S * x); return LECUN_A * LECUN_S * (1.f - t * t); }
    }
}

extern "C" __global__ void activationForward(int kind, const float* x, float* y, long n) { GRID_STRIDE(i, n) y[i] = act(kind, x[i]); }

extern "C" __global__ void activationBackward(int kind, const float* x, const float* y, const float* dy, float* dx, long n) {
    GRID_STRIDE(i, n) dx[i] = actGrad(kind, x[i], y[i]) * dy[i];
}

// ------------------------------------------------------------------ softmax and cross-entropy

// One block per row of length n; with causal, row r of each [t, n] matrix keeps columns <= r mod t (others 0).
extern "C" __global__ void softmaxForward(const float* x, float* y, int rows, int n, int t, int causal) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long) r * n;
        float* yr = y + (long) r * n;
        int len = causal ? min(n, r % t + 1) : n;
        float m = -INFINITY;
        for (int j = threadIdx.x; j < len; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = blockReduce(m, true);
        float s = 0.f;
        for (int j = threadIdx.x; j < len; j += blockDim.x) s += expf(xr[j] - m);
        s = blockReduce(s, false);
        float inv = 1.f / s;
        for (int j = threadIdx.x; j < n; j += blockDim.x) yr[j] = j < len ? expf(xr[j] - m) * inv : 0.f;
    }
}

extern "C" __global__ void softmaxBackward(const float* y, const float* dy, float* dx, int rows, int n) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* yr = y + (long) r * n;
        const float* gr = dy + (long) r * n;
        float dot = 0.f;
        for (int j = threadIdx.x; j < n; j += blockDim.x) dot += gr[j] * yr[j];
        dot = blockReduce(dot, false);
        for (int j = threadIdx.x; j < n; j += blockDim.x) dx[(long) r * n + j] = (gr[j] - dot) * yr[j];
    }
}

// Per row: probs ← softmax(logits), rowLoss[r] ← −Σ target·log softmax with target (1−ε)·onehot + ε/C.
extern "C" __global__ void crossEntropyRows(const float* logits, const float* labels, float* probs, float* rowLoss,
                                            int rows, int c, float eps, int* bad) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = logits + (long) r * c;
        int label = checkedIndex(labels[r], c, r, bad);
        float m = -INFINITY;
        for (int j = threadIdx.x; j < c; j += blockDim.x) m = fmaxf(m, xr[j]);
        m = blockReduce(m, true);
        float s = 0.f, sumX = 0.f;
        for (int j = threadIdx.x; j < c; j += blockDim.x) { s += expf(xr[j] - m); sumX += xr[j]; }
        s = blockReduce(s, false);
        sumX = blockReduce(sumX, false);
        float logZ = m + logf(s);
        for (int j = threadIdx.x; j < c; j += blockDim.x) probs[(long) r * c + j] = expf(xr[j] - logZ);
        if (threadIdx.x == 0) {
            float xl = label < 0 ? logZ : xr[label];
            // −[(1−ε)(x_l − logZ) + ε/C·Σ_j (x_j − logZ)]
            rowLoss[r] = -((1.f - eps) * (xl - logZ) + eps / c * (sumX - c * logZ));
        }
    }
}

// loss[0] ← mean of rowLoss: one block, a fixed order
extern "C" __global__ void meanOf(const float* v, float* out, int n) {
    float s = 0.f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += v[i];
    s = blockReduce(s, false);
    if (threadIdx.x == 0) out[0] = s / n;
}

extern "C" __global__ void crossEntropyBackward(const float* probs, const float* labels, const float* dloss, float* dlogits,
                                                int rows, int c, float eps, int* bad) {
    long n = (long) rows * c;
    float g = dloss[0] / rows;
    GRID_STRIDE(i, n) {
        int r = (int) (i / c), j = (int) (i % c);
        int label = checkedIndex(labels[r], c, r, bad);
        float target = (j == label ? 1.f - eps : 0.f) + eps / c;
        dlogits[i] = g * (probs[i] - target);
    }
}

// ------------------------------------------------------------------ layer norm

// One block per row: mean and variance in two passes over the row (no cancellation from E[x²] − E[x]²).
extern "C" __global__ void layerNormForward(const float* x, const float* gamma, const float* beta, float eps,
                                            float* y, float* mean, float* rstd, int rows, int d) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long) r * d;
        float s = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) s += xr[j];
        float mu = blockReduce(s, false) / d;
        float v = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) { float c = xr[j] - mu; v += c * c; }
        float rs = rsqrtf(blockReduce(v, false) / d + eps);
        for (int j = threadIdx.x; j < d; j += blockDim.x) y[(long) r * d + j] = (xr[j] - mu) * rs * gamma[j] + beta[j];
        if (threadIdx.x == 0) { mean[r] = mu; rstd[r] = rs; }
    }
}

extern "C" __global__ void layerNormBackwardData(const float* dy, const float* x, const float* gamma, const float* mean,
                                                 const float* rstd, float* dx, int rows, int d) {
    for (int r = blockIdx.x; r < rows; r += gridDim.x) {
        const float* xr = x + (long) r * d;
        const float* gr = dy + (long) r * d;
        float mu = mean[r], rs = rstd[r], sumG = 0.f, sumGX = 0.f;
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float gh = gr[j] * gamma[j];
            sumG += gh;
            sumGX += gh * (xr[j] - mu) * rs;
        }
        sumG = blockReduce(sumG, false);
        sumGX = blockReduce(sumGX, false);
        for (int j = threadIdx.x; j < d; j += blockDim.x) {
            float xh = (xr[j] - mu) * rs;
            dx[(long) r * d + j] = rs * (gr[j] * gamma[j] - sumG / d - xh * sumGX / d);
        }
    }
}

// Partial sums of dgamma (dy·x̂) and dbeta (dy) over chunks of rows: part [2, chunks, d]; colSum finishes them.
extern "C" __global__ void layerNormBackwardParams(const float* dy, const float* x, const float* mean, const float* rstd,
                                                   float* part, int rows, int d, int chunk) {
    int chunks = (rows + chunk - 1) / chunk;
    long n = (long) chunks * d;
    GRID_STRIDE(e, n) {
        int c = (int) (e / d), j = (int) (e % d);
        float sg = 0.f, sb = 0.f;
        for (int r = c * chunk; r < min(rows, (c + 1) * chunk); r++) {
            float g = dy[(long) r * d + j];
            sg += g * (x[(long) r * d + j] - mean[r]) * rstd[r];
            sb += g;
        }
        part[e] = sg;
        part[n + e] = sb;
    }
}

// ------------------------------------------------------------------ fused attention

// Strided views: element (b, h, t, e) of a [B, H, T, D] operand is at base + b·sB + h·sH + t·sT + e, so the same
// kernels read q, k, v from a packed qkv projection [B, T, 3, H, D] in place and write out in [B, T, H, D].
struct View { long sB, sH, sT; };

__device__ __forceinline__ long at(View v, int b, int h, int t) { return b * v.sB + h * v.sH + t * v.sT; }

// dst [n][width] ← rows r0 .. r0+n of a strided operand, by the whole block
__device__ void loadRows(float* dst, const float* src, View v, int b, int h, int r0, int n, int width) {
    for (int i = threadIdx.x; i < n * width; i += blockDim.x) dst[i] = src[at(v, b, h, r0 + i / width) + i % width];
}

// Forward, FlashAttention-style: a warp per query row, keys and values in shared-memory tiles of `tile` rows, the
// softmax online (running max m and sum l, the accumulator rescaled when m grows); out normalised at the end.
// Shared memory: K tile [tile][d], V tile [tile][dv], q [warps][d], acc [warps][dv].
extern "C" __global__ void attentionForward(const float* q, View qv, const float* k, View kv, const float* v, View vv,
                                            float* out, View ov, float* lse, int heads, int t, int s, int d, int dv,
                                            float scale, int causal, int tile) {
    DYNAMIC_SHARED(sm);
    int warps = blockDim.x / WARP, w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float* kt = sm;
    float* vt = kt + tile * d;
    float* qs = vt + tile * dv;
    float* acc = qs + warps * d;
    int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    int row = blockIdx.x * warps + w;
    bool active = row < t;
    float* qw = qs + w * d;
    float* aw = acc + w * dv;
    if (active) {
        for (int e = lane; e < d; e += WARP) qw[e] = q[at(qv, b, h, row) + e] * scale;
        for (int e = lane; e < dv; e += WARP) aw[e] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    // the last key any row of this block sees
    int blockLast = causal ? min(s, ((int) blockIdx.x + 1) * warps) : s;
    int rowEnd = !active ? 0 : causal ? min(s, row + 1) : s;
    for (int k0 = 0; k0 < blockLast; k0 += tile) {
        int kn = min(tile, blockLast - k0);
        __syncthreads();
        loadRows(kt, k, kv, b, h, k0, kn, d);
        loadRows(vt, v, vv, b, h, k0, kn, dv);
        __syncthreads();
        if (!active) continue;
        int jn = min(kn, rowEnd - k0);
        for (int j = 0; j < jn; j++) {
            float p = 0.f;
            for (int e = lane; e < d; e += WARP) p += qw[e] * kt[j * d + e];
            float sc = warpSum(p);
            float mNew = fmaxf(m, sc);
            float corr = expf(m - mNew), pj = expf(sc - mNew);
            l = l * corr + pj;
            for (int e = lane; e < dv; e += WARP) aw[e] = aw[e] * corr + pj * vt[j * dv + e];
            m = mNew;
        }
    }
    if (active) {
        float inv = 1.f / l;
        for (int e = lane; e < dv; e += WARP) out[at(ov, b, h, row) + e] = aw[e] * inv;
        if (lane == 0) lse[((long) bh) * t + row] = m + logf(l);
    }
}

// delta[bh, t] = Σ_e dout·out over the row (FlashAttention-2's D_i): a warp per row
extern "C" __global__ void attentionDelta(const float* out, View ov, const float* dout, View dov, float* delta,
                                          int heads, int t, int dv) {
    int warps = blockDim.x / WARP, w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    int bh = blockIdx.y, b = bh / heads, h = bh % heads, row = blockIdx.x * warps + w;
    if (row >= t) return;
    float s = 0.f;
    for (int e = lane; e < dv; e += WARP) s += out[at(ov, b, h, row) + e] * dout[at(dov, b, h, row) + e];
    s = warpSum(s);
    if (lane == 0) delta[((long) bh) * t + row] = s;
}

// dq: a warp per query row over the keys it sees: p = exp(scale·q·k − lse), ds = p·(dout·v − delta), dq = scale·Σ ds·k.
// Shared memory: K tile [tile][d], V tile [tile][dv], q [warps][d], dout [warps][dv], dq [warps][d].
extern "C" __global__ void attentionBackwardQ(const float* q, View qv, const float* k, View kv, const float* v, View vv,
                                              const float* dout, View dov, const float* lse, const float* delta,
                                              float* dq, View dqv, int heads, int t, int s, int d, int dv,
                                              float scale, int causal, int tile) {
    DYNAMIC_SHARED(sm);
    int warps = blockDim.x / WARP, w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float* kt = sm;
    float* vt = kt + tile * d;
    float* qs = vt + tile * dv;
    float* ds = qs + warps * d;
    float* gq = ds + warps * dv;
    int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    int row = blockIdx.x * warps + w;
    bool active = row < t;
    float* qw = qs + w * d;
    float* dw = ds + w * dv;
    float* gw = gq + w * d;
    float L = 0.f, D = 0.f;
    if (active) {
        for (int e = lane; e < d; e += WARP) { qw[e] = q[at(qv, b, h, row) + e]; gw[e] = 0.f; }
        for (int e = lane; e < dv; e += WARP) dw[e] = dout[at(dov, b, h, row) + e];
        L = lse[(long) bh * t + row];
        D = delta[(long) bh * t + row];
    }
    int blockLast = causal ? min(s, ((int) blockIdx.x + 1) * warps) : s;
    int rowEnd = !active ? 0 : causal ? min(s, row + 1) : s;
    for (int k0 = 0; k0 < blockLast; k0 += tile) {
        int kn = min(tile, blockLast - k0);
        __syncthreads();
        loadRows(kt, k, kv, b, h, k0, kn, d);
        loadRows(vt, v, vv, b, h, k0, kn, dv);
        __syncthreads();
        if (!active) continue;
        int jn = min(kn, rowEnd - k0);
        for (int j = 0; j < jn; j++) {
            float sc = 0.f, dp = 0.f;
            for (int e = lane; e < d; e += WARP) sc += qw[e] * kt[j * d + e];
            for (int e = lane; e < dv; e += WARP) dp += dw[e] * vt[j * dv + e];
            sc = warpSum(sc);
            dp = warpSum(dp);
            float p = expf(sc * scale - L);
            float g = p * (dp - D) * scale;
            for (int e = lane; e < d; e += WARP) gw[e] += g * kt[j * d + e];
        }
    }
    if (active) for (int e = lane; e < d; e += WARP) dq[at(dqv, b, h, row) + e] = gw[e];
}

// dk, dv: a warp per key row over the queries that see it (all, or rows >= the key's when causal):
// dv = Σ p·dout, dk = scale·Σ ds·q. Shared memory: q tile [tile][d], dout tile [tile][dv], lse and delta [tile],
// k [warps][d], v [warps][dv], dk [warps][d], dv [warps][dv].
extern "C" __global__ void attentionBackwardKV(const float* q, View qv, const float* k, View kv, const float* v, View vv,
                                               const float* dout, View dov, const float* lse, const float* delta,
                                               float* dk, View dkv, float* dvOut, View dvv, int heads, int t, int s,
                                               int d, int dv, float scale, int causal, int tile) {
    DYNAMIC_SHARED(sm);
    int warps = blockDim.x / WARP, w = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    float* qt = sm;
    float* ot = qt + tile * d;
    float* lt = ot + tile * dv;
    float* dt = lt + tile;
    float* ks = dt + tile;
    float* vs = ks + warps * d;
    float* gk = vs + warps * dv;
    float* gv = gk + warps * d;
    int bh = blockIdx.y, b = bh / heads, h = bh % heads;
    int col = blockIdx.x * warps + w;
    bool active = col < s;
    float* kw = ks + w * d;
    float* vw = vs + w * dv;
    float* gkw = gk + w * d;
    float* gvw = gv + w * dv;
    if (active) {
        for (int e = lane; e < d; e += WARP) { kw[e] = k[at(kv, b, h, col) + e]; gkw[e] = 0.f; }
        for (int e = lane; e < dv; e += WARP) { vw[e] = v[at(vv, b, h, col) + e]; gvw[e] = 0.f; }
    }
    // the first query any key of this block is seen by
    int blockFirst = causal ? min(t, (int) blockIdx.x * warps) : 0;
    int colStart = causal ? col : 0;
    for (int q0 = blockFirst; q0 < t; q0 += tile) {
        int qn = min(tile, t - q0);
        __syncthreads();
        loadRows(qt, q, qv, b, h, q0, qn, d);
        loadRows(ot, dout, dov, b, h, q0, qn, dv);
        for (int i = threadIdx.x; i < qn; i += blockDim.x) { lt[i] = lse[(long) bh * t + q0 + i]; dt[i] = delta[(long) bh * t + q0 + i]; }
        __syncthreads();
        if (!active) continue;
        for (int i = max(0, colStart - q0); i < qn; i++) {
            float sc = 0.f, dp = 0.f;
            for (int e = lane; e < d; e += WARP) sc += qt[i * d + e] * kw[e];
            for (int e = lane; e < dv; e += WARP) dp += ot[i * dv + e] * vw[e];
            sc = warpSum(sc);
            dp = warpSum(dp);
            float p = expf(sc * scale - lt[i]);
            float g = p * (dp - dt[i]) * scale;
            for (int e = lane; e < dv; e += WARP) gvw[e] += p * ot[i * dv + e];
            for (int e = lane; e < d; e += WARP) gkw[e] += g * qt[i * d + e];
        }
    }
    if (active) {
        for (int e = lane; e < d; e += WARP) dk[at(dkv, b, h, col) + e] = gkw[e];
        for (int e = lane; e < dv; e += WARP) dvOut[at(dvv, b, h, col) + e] = gvw[e];
    }
}

// ------------------------------------------------------------------ optimizer steps

extern "C" __global__ void sgdStep(float* p, const float* g, float* buf, float lr, float momentum, float wd, int nesterov, long n) {
    GRID_STRIDE(i, n) {
        float d = g[i] + wd * p[i];
        if (momentum != 0.f) {
            float b = momentum * buf[i] + d;
            buf[i] = b;
            d = nesterov ? d + momentum * b : b;
        }
        p[i] = p[i] - lr * d;
    }
}

// c1 = 1 − β1^t and c2 = 1 − β2^t come from the host (in double there)
extern "C" __global__ void adamWStep(float* p, const float* g, float* m, float* v, float lr, float b1, float b2, float eps,
                                     float wd, float c1, float c2, long n) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.f - b1) * gi;
        float vi = b2 * v[i] + (1.f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * (1.f - lr * wd) - lr * (mi / c1) / (sqrtf(vi / c2) + eps);
    }
}
