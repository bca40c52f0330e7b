// Integer witness kernels, compiled at run time by NVRTC (no CUDA toolkit at
// build time). Each kernel is bit-exact with cipherproof-model's integer
// reference: 64-bit accumulation, then `round_shift(acc + bias, shift)` =
// (v + 2^(shift-1)) >> shift with an arithmetic shift (halves round up).

typedef long long i64;

__device__ __forceinline__ i64 round_shift(i64 v, unsigned int shift) {
    return shift == 0 ? v : (v + (1LL << (shift - 1))) >> shift;
}

// out[b, o] = round_shift(sum_i x[b, i] * w[o, i] + bias[o], shift)
// x: [batch, in], w: [out, in] (as the model stores it), out: [batch, out].
extern "C" __global__ void dense_i64(
    const i64* __restrict__ x, const i64* __restrict__ w, const i64* __restrict__ bias,
    i64* __restrict__ out, unsigned int batch, unsigned int in, unsigned int outs,
    unsigned int shift)
{
    unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (unsigned long long)batch * outs) return;
    unsigned int b = (unsigned int)(t / outs);
    unsigned int o = (unsigned int)(t % outs);
    const i64* xr = x + (unsigned long long)b * in;
    const i64* wr = w + (unsigned long long)o * in;
    i64 acc = 0;
    for (unsigned int i = 0; i < in; ++i) acc += xr[i] * wr[i];
    out[t] = round_shift(acc + bias[o], shift);
}

// 2-D convolution, NCHW, weight [co, ci, kh, kw]; padding positions read zero.
// geo = {ci, h, w, co, oh, ow, kh, kw, stride_y, stride_x, pad_top, pad_left,
//        dil_y, dil_x}
extern "C" __global__ void conv2d_i64(
    const i64* __restrict__ x, const i64* __restrict__ w, const i64* __restrict__ bias,
    i64* __restrict__ out, const unsigned int* __restrict__ geo, unsigned int batch,
    unsigned int shift)
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
    out[t] = round_shift(acc + bias[c], shift);
}
