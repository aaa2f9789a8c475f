// Subnet weights as safetensors (float32, PyTorch names and layouts: conv
// OIHW, depthwise [C,1,k,k], BatchNorm weight/bias/running_mean/running_var
// and int64 num_batches_tracked), so tools/torch_model.py loads them with
// load_state_dict(strict=True).
#ifndef HWNAS_SAFETENSORS_H
#define HWNAS_SAFETENSORS_H

#include "common/error.h"
#include "supernet/supernet.h"

#ifdef __cplusplus
extern "C" {
#endif

// Writes the weights of `path`'s blocks (stem, one operator per layer, head)
// with subnet names ("layers.3.dw.conv.weight"); atomic.
int safetensors_write_subnet(const Supernet* sn, const int* path, const char* file, HwErr* err);

// Loads a subnet's weights into the blocks of `path`. Every tensor must be
// present with the right dtype and shape; unknown tensors are errors too.
int safetensors_read_subnet(Supernet* sn, const int* path, const char* file, HwErr* err);

#ifdef __cplusplus
}
#endif
#endif
