/* blascore.h — which OpenBLAS kernel ("core") a run uses (SPEC §8).
 *
 * Why: OpenBLAS (DYNAMIC_ARCH, as Debian builds it) picks its core once, when
 * the library loads, from its own CPU table; an old OpenBLAS falls back to
 * the slow generic Prescott core on CPUs newer than itself (Debian 12's
 * 0.3.21 does so on Sapphire Rapids: about 3x slower training), and it
 * silently falls back again on a core name it does not know. The core also
 * decides the last bits of every result, so a lake replays byte for byte
 * only under the core that made it.
 *
 * What this module does: a fixed table of the x86-64 cores marlsim may ask
 * for, fastest first, each with the CPU features (GCC's
 * __builtin_cpu_supports, which also checks that the OS saves the vector
 * state) it needs; nn_blas_core_auto() is the first entry the CPU supports.
 * OPENBLAS_CORETYPE, read by OpenBLAS at load, is how a core is pinned: the
 * command layer sets it and re-executes itself (cli/common.c), then checks
 * nn_blas_core_current() against what it asked for.
 *
 * Names are OpenBLAS's own spelling (what openblas_get_corename() returns).
 * Zen is in the table for pinning (an AMD machine's lake); auto never picks
 * it: its kernels are Haswell's, and a fixed vendor-independent choice
 * keeps lakes of different machines comparable.
 *
 * Pure functions of the CPU; nothing allocated; thread-safe.
 */
#ifndef MS_NN_BLASCORE_H
#define MS_NN_BLASCORE_H

/* "auto" then the table's cores, fastest first; NULL-terminated (the
 * choices of [train] blas_core). Index 0 = auto. */
extern const char *const nn_blas_core_names[];

/* The fastest core of the table the CPU supports (never NULL: Prescott,
 * the x86-64 baseline OpenBLAS always has, ends the table). */
const char *nn_blas_core_auto(void);

/* 1 when name is in the table (case-sensitive) and the CPU supports it. */
int nn_blas_core_supported(const char *name);

/* The core OpenBLAS runs in this process (openblas_get_corename()). */
const char *nn_blas_core_current(void);

/* The core [train] blas_core asks for: index into nn_blas_core_names (0 =
 * auto: nn_blas_core_auto()). */
const char *nn_blas_core_wanted(int index);

#endif
