// <immintrin.h> for the x86/*avx512*.cpp translation units, without GCC 12's false warnings:
// its AVX-512 headers make their "undefined" vectors by self-initialisation, which its own
// -Wuninitialized / -Wmaybe-uninitialized then report wherever such an intrinsic is inlined
// (GCC bug 105593, fixed in GCC 13). The diagnostic state of the header's own lines decides, so
// this must be the translation unit's first inclusion of immintrin.h: include it first.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif
