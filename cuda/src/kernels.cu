// Integer witness kernels, compiled at run time by NVRTC (no CUDA toolkit at
// build time). Each kernel is bit-exact with cipherproof-model's integer
// reference: 64-bit accumulation, then `round_shift(acc + bias, shift)` =
// (v + 2^(shift-1)) >> shift with an arithmetic shift (halves round up).

typedef long long i64;

__device__ __forceinline__ i64 round_shift(i64 v, unsigned int shift) {
    return shift == 0 ? v : (v + (1LL << (shift - 1))) >> shift;
}

// Every kernel range-checks what it stores: a value outside [lo, hi] (its
// signed range) raises *bad, and the host then reruns the batch on the CPU
// reference for the exact error. One launch per op instead of an op and a check.
__device__ __forceinline__ void check(i64 v, i64 lo, i64 hi, unsigned int* bad) {
    if (v < lo || v > hi) atomicOr(bad, 1u);
}

// Dense and Conv end in this: the rescaled value checked against its range
// and, when `relu` is set (a ReLU that only this op feeds, fused into it),
// max(v, 0) checked against the ReLU output's range [rlo, rhi] and stored instead.
__device__ __forceinline__ i64 epilogue(i64 v, i64 lo, i64 hi, unsigned int relu, i64 rlo,
                                        i64 rhi, unsigned int* bad) {
    check(v, lo, hi, bad);
    if (relu) {
        v = v > 0 ? v : 0;
        check(v, rlo, rhi, bad);
    }
    return v;
}

// out[b, o] = round_shift(sum_i x[b, i] * w[o, i] + bias[o], shift), then the epilogue.
// x: [batch, in], w: [out, in] (as the model stores it), out: [batch, out].
extern "C" __global__ void dense_i64(
    const i64* __restrict__ x, const i64* __restrict__ w, const i64* __restrict__ bias,
    i64* __restrict__ out, unsigned int batch, unsigned int in, unsigned int outs,
    unsigned int shift, i64 lo, i64 hi, unsigned int relu, i64 rlo, i64 rhi,
    unsigned int* bad)
{
    unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (unsigned long long)batch * outs) return;
    unsigned int b = (unsigned int)(t / outs);
    unsigned int o = (unsigned int)(t % outs);
    const i64* xr = x + (unsigned long long)b * in;
    const i64* wr = w + (unsigned long long)o * in;
    i64 acc = 0;
    for (unsigned int i = 0; i < in; ++i) acc += xr[i] * wr[i];
    out[t] = epilogue(round_shift(acc + bias[o], shift), lo, hi, relu, rlo, rhi, bad);
}

// 2-D convolution, NCHW, weight [co, ci, kh, kw]; padding positions read zero;
// then the epilogue.
// geo = {ci, h, w, co, oh, ow, kh, kw, stride_y, stride_x, pad_top, pad_left,
//        dil_y, dil_x}
extern "C" __global__ void conv2d_i64(
    const i64* __restrict__ x, const i64* __restrict__ w, const i64* __restrict__ bias,
    i64* __restrict__ out, const unsigned int* __restrict__ geo, unsigned int batch,
    unsigned int shift, i64 lo, i64 hi, unsigned int relu, i64 rlo, i64 rhi,
    unsigned int* bad)
{
    unsigned int ci = geo[0], h = geo[1], wd = geo[2], co = geo[3], oh = geo[4], ow = geo[5];
    unsigned int kh = geo[6], kw = geo[7], sy = geo[8], sx = geo[9];
    int pt = (int)geo[10], pl = (int)geo[11];
    unsigned int dy = geo[12], dx = geo[13];
    unsigned long long per_image = (unsigned long long)co * oh * ow;
    unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= per_image * batch) return;
    unsigned int b = (unsigned int)(t / per_image);
    unsigned long long r = t % per_image;
    unsigned int c = (unsigned int)(r / ((unsigned long long)oh * ow));
    unsigned int p = (unsigned int)(r % ((unsigned long long)oh * ow));
    unsigned int oy = p / ow, ox = p % ow;
    const i64* xb = x + (unsigned long long)b * ci * h * wd;
    const i64* wc = w + (unsigned long long)c * ci * kh * kw;
    int y0 = (int)(oy * sy) - pt, x0 = (int)(ox * sx) - pl;
    i64 acc = 0;
    for (unsigned int k = 0; k < ci; ++k) {
        const i64* xp = xb + (unsigned long long)k * h * wd;
        const i64* wk = wc + (unsigned long long)k * kh * kw;
        for (unsigned int ky = 0; ky < kh; ++ky) {
            int y = y0 + (int)(ky * dy);
            if (y < 0 || y >= (int)h) continue;
            for (unsigned int kx = 0; kx < kw; ++kx) {
                int xx = x0 + (int)(kx * dx);
                if (xx < 0 || xx >= (int)wd) continue;
                acc += xp[(unsigned int)y * wd + (unsigned int)xx] * wk[ky * kw + kx];
            }
        }
    }
    out[t] = epilogue(round_shift(acc + bias[c], shift), lo, hi, relu, rlo, rhi, bad);
}

// round(v / n), halves up, for n > 0: floor((2v + n) / 2n), as the model crate's round_div.
__device__ __forceinline__ i64 round_div(i64 v, i64 n) {
    i64 num = 2 * v + n, d = 2 * n;
    i64 q = num / d;
    return (num % d != 0 && num < 0) ? q - 1 : q;
}

__device__ __forceinline__ unsigned long long thread_index() {
    return (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
}

// out[t] = max(x[t], 0), checked against [lo, hi]
extern "C" __global__ void relu_i64(const i64* __restrict__ x, i64* __restrict__ out,
                                    unsigned long long n, i64 lo, i64 hi, unsigned int* bad)
{
    unsigned long long t = thread_index();
    if (t >= n) return;
    i64 v = x[t] > 0 ? x[t] : 0;
    check(v, lo, hi, bad);
    out[t] = v;
}

// The batch's inputs come up as 16- or 32-bit integers (a quarter or half of
// the bytes; the host checked them against the input's range) and widen here.
extern "C" __global__ void widen_i16(const short* __restrict__ x, i64* __restrict__ out,
                                     unsigned long long n)
{
    unsigned long long t = thread_index();
    if (t < n) out[t] = (i64)x[t];
}

extern "C" __global__ void widen_i32(const int* __restrict__ x, i64* __restrict__ out,
                                     unsigned long long n)
{
    unsigned long long t = thread_index();
    if (t < n) out[t] = (i64)x[t];
}

// Window pooling over NCHW planes, one thread per output. mode 0: max over the
// taps inside the image (0 when none); 1: round_div(sum, kh*kw) (padding counts);
// 2: round_div(sum, taps inside) (padding does not count). Checked against [lo, hi].
// geo = {h, w, oh, ow, kh, kw, stride_y, stride_x, pad_top, pad_left, dil_y, dil_x}
extern "C" __global__ void pool_i64(
    const i64* __restrict__ x, i64* __restrict__ out, const unsigned int* __restrict__ geo,
    unsigned long long planes, unsigned int mode, i64 lo, i64 hi, unsigned int* bad)
{
    unsigned int h = geo[0], w = geo[1], oh = geo[2], ow = geo[3], kh = geo[4], kw = geo[5];
    unsigned int sy = geo[6], sx = geo[7], dy = geo[10], dx = geo[11];
    int pt = (int)geo[8], pl = (int)geo[9];
    unsigned long long per_plane = (unsigned long long)oh * ow;
    unsigned long long t = thread_index();
    if (t >= planes * per_plane) return;
    unsigned long long plane = t / per_plane;
    unsigned int p = (unsigned int)(t % per_plane);
    unsigned int oy = p / ow, ox = p % ow;
    const i64* xp = x + plane * h * w;
    int y0 = (int)(oy * sy) - pt, x0 = (int)(ox * sx) - pl;
    i64 best = 0, sum = 0;
    unsigned int count = 0;
    for (unsigned int ky = 0; ky < kh; ++ky) {
        int y = y0 + (int)(ky * dy);
        if (y < 0 || y >= (int)h) continue;
        for (unsigned int kx = 0; kx < kw; ++kx) {
            int xx = x0 + (int)(kx * dx);
            if (xx < 0 || xx >= (int)w) continue;
            i64 v = xp[(unsigned int)y * w + (unsigned int)xx];
            best = (count == 0 || v > best) ? v : best;
            sum += v;
            ++count;
        }
    }
    i64 v = best;
    if (mode != 0) {
        i64 n = mode == 1 ? (i64)kh * kw : (i64)count;
        v = round_div(sum, n > 0 ? n : 1);
    }
    check(v, lo, hi, bad);
    out[t] = v;
}

// out[t] = table[round_shift(x[t], in_shift) + offset], checked against [lo, hi];
// an index outside the table sets *bad and reads entry 0 instead (the caller
// then reports the error).
extern "C" __global__ void lut_i64(
    const i64* __restrict__ x, i64* __restrict__ out, unsigned long long n,
    const i64* __restrict__ table, unsigned long long table_len, unsigned int in_shift,
    i64 offset, i64 lo, i64 hi, unsigned int* bad)
{
    unsigned long long t = thread_index();
    if (t >= n) return;
    i64 i = round_shift(x[t], in_shift) + offset;
    if (i < 0 || (unsigned long long)i >= table_len) {
        atomicOr(bad, 1u);
        i = 0;
    }
    i64 v = table[i];
    check(v, lo, hi, bad);
    out[t] = v;
}

// Sets *bad when any x[t] lies outside [lo, hi] (the value's signed range): for
// what no kernel stored (the host-run ops' outputs, a reshape to fewer bits).
extern "C" __global__ void range_check_i64(
    const i64* __restrict__ x, unsigned long long n, i64 lo, i64 hi, unsigned int* bad)
{
    unsigned long long t = thread_index();
    if (t < n && (x[t] < lo || x[t] > hi)) atomicOr(bad, 1u);
}

// Broadcast binary arithmetic with rescale, one thread per output:
// out[s, e] = round_shift(f(a[s, ia[e]], b[s, ib[e]]), shift) with f by mode
// 0: (a << align_a) + (b << align_b), 1: (a << align_a) - (b << align_b), 2: a * b,
// checked against [lo, hi].
// ia/ib map each output element of a sample to its operands' elements; a
// constant operand has b_per = 0 (the same values for every sample).
extern "C" __global__ void binary_i64(
    const i64* __restrict__ a, const i64* __restrict__ b, i64* __restrict__ out,
    const unsigned int* __restrict__ ia, const unsigned int* __restrict__ ib,
    unsigned long long per_out, unsigned long long a_per, unsigned long long b_per,
    unsigned long long batch, unsigned int mode, unsigned int align_a, unsigned int align_b,
    unsigned int shift, i64 lo, i64 hi, unsigned int* bad)
{
    unsigned long long t = thread_index();
    if (t >= per_out * batch) return;
    unsigned long long s = t / per_out, e = t % per_out;
    i64 x = a[s * a_per + ia[e]], y = b[s * b_per + ib[e]];
    i64 v = mode == 0 ? (x << align_a) + (y << align_b)
          : mode == 1 ? (x << align_a) - (y << align_b)
          : x * y;
    v = round_shift(v, shift);
    check(v, lo, hi, bad);
    out[t] = v;
}
