// Built when nvcc is absent: hwnas has no CUDA backend.
#include "ops.h"

const Ops* ops_cuda(void) { return NULL; }
