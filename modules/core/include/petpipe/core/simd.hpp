#pragma once
// Run-time choice of instruction set for petpipe's innermost kernels.
//
// The default build targets baseline x86-64 (SSE2), so one binary runs on every node of a cluster
// that mixes CPU generations. The few functions where vector width pays (the SRTM basis-function
// product and argmax, petpipe smooth's convolutions, realign's B-spline reslicing rows and normalize's
// Gaussian smoothing of images and displacement fields) carry PETPIPE_SIMD_CLONES: GCC compiles them
// three times (baseline, x86-64-v3 = AVX2 + FMA, x86-64-v4 = AVX-512) and the loader binds the best
// one the CPU supports (an ifunc resolved once at start-up; calls then cost one indirect jump).
//
// The clones may differ in the last bits of a float result (the AVX2 and AVX-512 clones contract
// a * b + c into fused multiply-adds), but a given binary on a given CPU always runs the same clone, so
// results do not depend on thread count or scheduling.
//
// No clones when the build already targets AVX2 or better (PETPIPE_NATIVE=ON, -march=native or
// -march=x86-64-v3 in CMAKE_CXX_FLAGS), on other architectures, or with compilers without
// target_clones: the functions are then compiled once for the build's own target.

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__AVX2__) && \
    defined(__has_attribute)
#if __has_attribute(target_clones)
#define PETPIPE_SIMD_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#endif
#endif
#ifndef PETPIPE_SIMD_CLONES
#define PETPIPE_SIMD_CLONES
#endif
