// The CPU backend's op table.
#include "cpu_ops.h"

const Ops ops_cpu = {
    .name = "cpu",
#define OP(RET, NAME, PARAMS) .NAME = NAME##_cpu,
#include "../op_list.h"
#undef OP
};
