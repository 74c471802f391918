/* blascore.c — see blascore.h. */
#include "nn/blascore.h"

#include <string.h>

#include <cblas.h>

const char *const nn_blas_core_names[] = {"auto",        "Cooperlake", "SkylakeX", "Haswell", "Zen",
                                          "SandyBridge", "Nehalem",    "Core2",    "Prescott", NULL};

/* What each core needs. __builtin_cpu_supports takes a string literal, so
 * the table is code: one test per core, in the order of the names above. */
static int supports(int index)
{
    __builtin_cpu_init();
    int avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
                 __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
                 __builtin_cpu_supports("avx512cd");
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    switch (index) {
    case 1: return avx512 && avx2 && __builtin_cpu_supports("avx512bf16"); /* Cooperlake */
    case 2: return avx512 && avx2;                                        /* SkylakeX */
    case 3: return avx2;                                                  /* Haswell */
    case 4: return avx2;                                                  /* Zen */
    case 5: return __builtin_cpu_supports("avx");                         /* SandyBridge */
    case 6: return __builtin_cpu_supports("sse4.2");                      /* Nehalem */
    case 7: return __builtin_cpu_supports("ssse3");                       /* Core2 */
    case 8: return __builtin_cpu_supports("sse3");                        /* Prescott */
    default: return 0;
    }
}

const char *nn_blas_core_auto(void)
{
    for (int k = 1; nn_blas_core_names[k]; k++)
        if (k != 4 && supports(k)) /* not Zen: see blascore.h */
            return nn_blas_core_names[k];
    return "Prescott";
}

int nn_blas_core_supported(const char *name)
{
    for (int k = 1; nn_blas_core_names[k]; k++)
        if (!strcmp(name, nn_blas_core_names[k]))
            return supports(k);
    return 0;
}

const char *nn_blas_core_current(void)
{
    return openblas_get_corename();
}

const char *nn_blas_core_wanted(int index)
{
    const int n = (int)(sizeof nn_blas_core_names / sizeof nn_blas_core_names[0]);
    return index > 0 && index < n && nn_blas_core_names[index] ? nn_blas_core_names[index] : nn_blas_core_auto();
}
