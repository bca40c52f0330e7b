/* Checks scripts/cuda-driver-loader.c through the `-lcuda` that
 * scripts/cuda-toolkit.sh prepares: without a driver a forwarded entry point
 * returns CUDA_ERROR_STUB_LIBRARY; with one it returns the driver's own answer
 * (here CUDA_ERROR_NOT_INITIALIZED, as nothing called cuInit). */
#include <cuda.h>
#include <dlfcn.h>
#include <stdio.h>

int main(void) {
    int driver = dlopen("libcuda.so.1", RTLD_NOW) != NULL;
    CUdevice device;
    CUresult r = cuDeviceGet(&device, 0);
    int ok = driver ? r != CUDA_ERROR_STUB_LIBRARY : r == CUDA_ERROR_STUB_LIBRARY;
    if (!ok)
        fprintf(stderr, "cuda-driver-loader: cuDeviceGet returned %d with%s a driver\n", (int)r,
                driver ? "" : "out");
    return !ok;
}
