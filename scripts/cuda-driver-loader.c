/* The CUDA driver entry points that a `--features cuda` build of cipherproof
 * calls directly (openvm-cuda-common's device memory pool), resolved from
 * libcuda.so.1 at their first call instead of by the dynamic linker at start.
 *
 * scripts/cuda-toolkit.sh compiles this into the archive that `-lcuda` links
 * (with the static CUDA runtime for `-lcudart`), so the binary has no
 * DT_NEEDED on libcuda.so.1 or libcudart.so: it starts on a machine without
 * an NVIDIA driver, where `--backend auto` proves on the CPU, and on a GPU
 * machine it calls the same driver functions it would have been bound to.
 * Without a driver each entry point returns CUDA_ERROR_STUB_LIBRARY (the
 * code NVIDIA's own stub library returns), never crashes.
 *
 * Each prototype is checked against cuda.h by the compiler. A build that
 * calls a driver function not listed here fails to link, naming it: add a
 * FORWARD line for it.
 */
#include <cuda.h>
#include <dlfcn.h>

static void *driver(void) {
    static void *handle;
    void *h = __atomic_load_n(&handle, __ATOMIC_ACQUIRE);
    if (!h) {
        h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
        if (h) __atomic_store_n(&handle, h, __ATOMIC_RELEASE);
    }
    return h;
}

/* Resolves `name` once; CUDA_ERROR_STUB_LIBRARY without a driver,
 * CUDA_ERROR_NOT_FOUND when the driver lacks the function. */
#define FORWARD(name, params, args)                                          \
    CUresult CUDAAPI name params {                                           \
        typedef CUresult (CUDAAPI *fn_t) params;                             \
        static fn_t resolved;                                                \
        fn_t f = __atomic_load_n(&resolved, __ATOMIC_ACQUIRE);               \
        if (!f) {                                                            \
            void *h = driver();                                              \
            if (!h) return CUDA_ERROR_STUB_LIBRARY;                          \
            f = (fn_t)dlsym(h, #name);                                       \
            if (!f) return CUDA_ERROR_NOT_FOUND;                             \
            __atomic_store_n(&resolved, f, __ATOMIC_RELEASE);                \
        }                                                                    \
        return f args;                                                       \
    }

FORWARD(cuDeviceGet, (CUdevice *device, int ordinal), (device, ordinal))
FORWARD(cuDeviceGetAttribute, (int *pi, CUdevice_attribute attrib, CUdevice dev),
        (pi, attrib, dev))
FORWARD(cuMemAddressReserve,
        (CUdeviceptr *ptr, size_t size, size_t alignment, CUdeviceptr addr,
         unsigned long long flags),
        (ptr, size, alignment, addr, flags))
FORWARD(cuMemAddressFree, (CUdeviceptr ptr, size_t size), (ptr, size))
FORWARD(cuMemCreate,
        (CUmemGenericAllocationHandle *handle, size_t size,
         const CUmemAllocationProp *prop, unsigned long long flags),
        (handle, size, prop, flags))
FORWARD(cuMemRelease, (CUmemGenericAllocationHandle handle), (handle))
FORWARD(cuMemGetAllocationGranularity,
        (size_t *granularity, const CUmemAllocationProp *prop,
         CUmemAllocationGranularity_flags option),
        (granularity, prop, option))
FORWARD(cuMemMap,
        (CUdeviceptr ptr, size_t size, size_t offset,
         CUmemGenericAllocationHandle handle, unsigned long long flags),
        (ptr, size, offset, handle, flags))
FORWARD(cuMemUnmap, (CUdeviceptr ptr, size_t size), (ptr, size))
FORWARD(cuMemSetAccess,
        (CUdeviceptr ptr, size_t size, const CUmemAccessDesc *desc, size_t count),
        (ptr, size, desc, count))
