// One block as an ONNX model (see onnx_blocks.h).
#include "deploy/onnx_blocks.h"

#include <stdio.h>
#include <stdlib.h>

#include "deploy/onnx_block.h"
#include "deploy/onnx_graph.h"

// The block's nodes with its weights read from the device; the output gets
// an Identity to "output" so that a block without nodes (skip) is a valid
// graph too (ONNX Runtime folds the Identity away).
static int emit(OnnxGraph* g, const Supernet* sn, int position, int block, HwErr* err) {
    const Block* b = &sn->blocks[block];
    int layer = supernet_block_layer(sn, block);
    char label[32] = "stem", prefix[32] = "";
    if (position == supernet_positions(sn) - 1) snprintf(label, sizeof label, "head");
    else if (position > 0) snprintf(label, sizeof label, "layers.%d", layer), snprintf(prefix, sizeof prefix, "layers.%d.", layer);
    float* params = malloc((b->param_floats + 1) * sizeof(float));
    float* running = malloc((b->running_floats + 1) * sizeof(float));
    int rc = -1;
    if (!params || !running) {
        hw_runtime(err, NULL, 0, "out of memory exporting block %s", b->op);
    } else {
        sn->ops->download(&sn->ctx, params, sn->params + sn->param_offset[block], b->param_floats * sizeof(float));
        if (b->running_floats)
            sn->ops->download(&sn->ctx, running, sn->running + sn->running_offset[block],
                              b->running_floats * sizeof(float));
        BlockEmit e = {.g = g, .b = b, .params = params, .running = running, .label = label,
                       .param_prefix = prefix, .input = "input", .output = NULL};
        const char* out = NULL;
        rc = onnx_emit_block(&e, &out, err);
        if (rc == 0) onnx_node(g, "Identity", "output/Identity", 1, &out, 1, (const char* const[]){"output"});
    }
    free(params);
    free(running);
    return rc;
}

int onnx_export_block(const Supernet* sn, int position, int block, const OnnxOptions* opt, const char* file,
                      HwErr* err) {
    if (opt->opset < ONNX_OPSET_MIN || opt->opset > ONNX_OPSET_MAX)
        return hw_bad_input(err, NULL, 0, "ONNX opset %d: expected %d..%d", opt->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    if (opt->batch < 1) return hw_bad_input(err, NULL, 0, "ONNX batch %d: expected 1 or more for a block", opt->batch);
    const Block* b = &sn->blocks[block];
    const SlotShape* in = &b->slots[0];
    const SlotShape* out = &b->slots[b->output];
    int head = position == supernet_positions(sn) - 1;
    int64_t in_dims[4] = {opt->batch, in->c, in->h, in->w};
    int64_t out_dims[4] = {opt->batch, head ? sn->space.classes : out->c, out->h, out->w};
    OnnxGraph g;
    onnx_graph_init(&g, opt->opset);
    int rc = emit(&g, sn, position, block, err);
    if (rc == 0) {
        onnx_graph_io(&g, "input", in_dims, 4, "output", out_dims, head ? 2 : 4);
        rc = onnx_graph_write(&g, b->op, file, err);
    }
    onnx_graph_destroy(&g);
    return rc;
}
