// CPU backend entry points. Each family lives in its own file under kernels/cpu/;
// ops_cpu.c gathers them into the `ops_cpu` table of kernels/ops.h.
#ifndef HWNAS_CPU_OPS_H
#define HWNAS_CPU_OPS_H

#include "../ops.h"

#ifdef __cplusplus
extern "C" {
#endif

// name_cpu for every op of kernels/op_list.h (documented there).
#define OP(RET, NAME, PARAMS) RET NAME##_cpu PARAMS;
#include "../op_list.h"
#undef OP

#ifdef __cplusplus
}
#endif
#endif
