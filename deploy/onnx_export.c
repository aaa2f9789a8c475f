// ONNX export of a subnet (see onnx_export.h).
#include "deploy/onnx_export.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/onnx_block.h"
#include "deploy/onnx_graph.h"
#include "common/safe_file.h"

// Host copies of one block's parameters and running statistics.
typedef struct HostBlock {
    float *params, *running;
} HostBlock;

static int host_block(const Supernet* sn, int block, HostBlock* h, HwErr* err) {
    const Block* b = &sn->blocks[block];
    h->params = malloc((b->param_floats + 1) * sizeof(float));
    h->running = malloc((b->running_floats + 1) * sizeof(float));
    if (!h->params || !h->running) return hw_runtime(err, NULL, 0, "out of memory exporting block %s", b->op);
    sn->ops->download(&sn->ctx, h->params, sn->params + sn->param_offset[block], b->param_floats * sizeof(float));
    if (b->running_floats)
        sn->ops->download(&sn->ctx, h->running, sn->running + sn->running_offset[block],
                          b->running_floats * sizeof(float));
    return 0;
}

// Position p's block as nodes reading `*value`, which becomes its output.
static int emit_position(OnnxGraph* g, const Supernet* sn, const int* path, int p, const char** value, HwErr* err) {
    int block = supernet_block_at(sn, path, p), last = p == supernet_positions(sn) - 1;
    int layer = supernet_block_layer(sn, block);
    HostBlock h = {0};
    char label[32] = "stem", prefix[32] = "";
    if (last) snprintf(label, sizeof label, "head");
    else if (p > 0) snprintf(label, sizeof label, "layers.%d", layer), snprintf(prefix, sizeof prefix, "layers.%d.", layer);
    BlockEmit e = {.g = g, .b = &sn->blocks[block], .label = label, .param_prefix = prefix, .input = *value,
                   .output = last ? "logits" : NULL};
    int rc = host_block(sn, block, &h, err);
    e.params = h.params, e.running = h.running;
    if (rc == 0) rc = onnx_emit_block(&e, value, err);
    free(h.params);
    free(h.running);
    return rc;
}

int onnx_export_subnet(const Supernet* sn, const int* path, const OnnxOptions* opt, const char* file, HwErr* err) {
    if (opt->opset < ONNX_OPSET_MIN || opt->opset > ONNX_OPSET_MAX)
        return hw_bad_input(err, NULL, 0, "ONNX opset %d: expected %d..%d", opt->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    if (opt->batch < 0) return hw_bad_input(err, NULL, 0, "ONNX batch %d: expected 0 (symbolic) or more", opt->batch);
    const Space* s = &sn->space;
    OnnxGraph g;
    onnx_graph_init(&g, opt->opset);
    const char* value = "input";
    int rc = 0;
    for (int p = 0; rc == 0 && p < supernet_positions(sn); p++) rc = emit_position(&g, sn, path, p, &value, err);
    if (rc == 0) {
        int64_t in_dims[4] = {opt->batch, s->in_c, s->in_h, s->in_w}, out_dims[2] = {opt->batch, s->classes};
        onnx_graph_io(&g, "input", in_dims, 4, "logits", out_dims, 2);
        rc = onnx_graph_write(&g, s->name, file, err);
    }
    onnx_graph_destroy(&g);
    return rc;
}

int onnx_export_beside(const Supernet* sn, const int* path, const char* weights_file, HwErr* err) {
    const char* slash = strrchr(weights_file, '/');
    const char* dot = strrchr(slash ? slash + 1 : weights_file, '.');
    int stem = dot ? (int)(dot - weights_file) : (int)strlen(weights_file);
    char file[SAFE_PATH_MAX];
    OnnxOptions opt = onnx_options_default();
    if (safe_path(file, sizeof file, err, "%.*s.onnx", stem, weights_file) < 0) return -1;
    return onnx_export_subnet(sn, path, &opt, file, err);
}
