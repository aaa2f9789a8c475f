// Block nodes as ONNX nodes (see onnx_block.h).
#include "deploy/onnx_block.h"

#include <string.h>

#include "deploy/conv_weights.h"

typedef struct Emit {
    const BlockEmit* e;
    OnnxGraph* g;
    const char* slots[BLOCK_MAX_SLOTS];  // value names, made on first use
    HwErr* err;
} Emit;

static const char* slot_name(Emit* st, int s) {
    if (!st->slots[s]) {
        const BlockEmit* e = st->e;
        st->slots[s] = (s == e->b->output && e->output) ? e->output : onnx_name(st->g, "%s/%d", e->label, s);
    }
    return st->slots[s];
}

static const char* node_name(Emit* st, const char* op, int index) {
    return onnx_name(st->g, "%s/%s_%d", st->e->label, op, index);
}

// A scalar float initializer shared by the whole graph (Clip's bounds).
static const char* scalar(OnnxGraph* g, const char* name, float v) {
    for (size_t i = 0; i < g->init_n; i++)
        if (!strcmp(g->inits[i]->name, name)) return name;
    return onnx_init_f32(g, name, NULL, 0, &v);
}

static void unary(Emit* st, const char* op, const char* in, const char* out, int index) {
    onnx_node(st->g, op, node_name(st, op, index), 1, &in, 1, &out);
}

// hard-sigmoid(x) = relu6(x + 3) / 6 = clip(x / 6 + 1/2, 0, 1).
static void hard_sigmoid(Emit* st, const char* in, const char* out, int index) {
    Onnx__NodeProto* n = onnx_node(st->g, "HardSigmoid", node_name(st, "HardSigmoid", index), 1, &in, 1, &out);
    onnx_attr_float(st->g, n, "alpha", 1.0f / 6.0f);
    onnx_attr_float(st->g, n, "beta", 0.5f);
}

// HardSwish exists from opset 14; before, x * hard-sigmoid(x), as PyTorch exports it.
static void emit_act(Emit* st, Activation act, const char* in, const char* out, int index) {
    OnnxGraph* g = st->g;
    if (act == ACT_RELU) unary(st, "Relu", in, out, index);
    else if (act == ACT_SIGMOID) unary(st, "Sigmoid", in, out, index);
    else if (act == ACT_HSIGMOID) hard_sigmoid(st, in, out, index);
    else if (act == ACT_HSWISH && g->opset >= 14) unary(st, "HardSwish", in, out, index);
    else if (act == ACT_HSWISH) {
        const char* gate = onnx_name(g, "%s.hsigmoid", out);
        hard_sigmoid(st, in, gate, index);
        const char* ins[2] = {in, gate};
        onnx_node(g, "Mul", node_name(st, "Mul", index), 2, ins, 1, &out);
    } else if (act == ACT_RELU6) {
        const char* ins[3] = {in, scalar(g, "relu6.min", 0.0f), scalar(g, "relu6.max", 6.0f)};
        onnx_node(g, "Clip", node_name(st, "Clip", index), 3, ins, 1, &out);
    } else {
        unary(st, "Identity", in, out, index);
    }
}

// Initializer name of parameter `param` with its last component replaced:
// "layers.3.dw.conv.weight" -> "layers.3.dw.conv.bias".
static const char* param_name(Emit* st, int param, const char* last) {
    const char* rel = st->e->b->params[param].name;
    const char* dot = strrchr(rel, '.');
    int stem_len = dot ? (int)(dot - rel) : (int)strlen(rel);
    return onnx_name(st->g, "%s%.*s.%s", st->e->param_prefix, stem_len, rel, last);
}

// Conv (dense, depthwise or 1x1), with the BN that follows it folded in.
static int emit_conv(Emit* st, int index, const Node* n, const Node* bn) {
    const BlockEmit* e = st->e;
    OnnxGraph* g = st->g;
    ConvWeights w;
    if (conv_weights_make(&w, e->b, n, bn, e->params, e->running, ONNX_BN_EPS) < 0)
        return hw_runtime(st->err, NULL, 0, "out of memory exporting %s", e->label);
    const char* out = bn ? slot_name(st, bn->out) : slot_name(st, n->out);
    if (bn && bn->act != ACT_NONE) out = onnx_name(g, "%s/conv_%d", e->label, index);
    int64_t bias_dims[1] = {w.dims[0]};
    const char* ins[3] = {slot_name(st, n->in), onnx_init_f32(g, param_name(st, n->weight, "weight"), w.dims, 4, w.weight),
                          onnx_init_f32(g, param_name(st, n->weight, "bias"), bias_dims, 1, w.bias)};
    int64_t k = w.dims[2], s = n->kind == NODE_LINEAR ? 1 : n->stride, p = n->kind == NODE_LINEAR ? 0 : n->pad;
    conv_weights_free(&w);  // the initializers hold copies
    Onnx__NodeProto* c = onnx_node(g, "Conv", node_name(st, "Conv", index), 3, ins, 1, &out);
    onnx_attr_ints(g, c, "kernel_shape", (int64_t[]){k, k}, 2);
    onnx_attr_ints(g, c, "strides", (int64_t[]){s, s}, 2);
    onnx_attr_ints(g, c, "pads", (int64_t[]){p, p, p, p}, 4);
    onnx_attr_int(g, c, "group", w.group);
    if (bn && bn->act != ACT_NONE) emit_act(st, bn->act, out, slot_name(st, bn->out), index);
    return 0;
}

// The classifier on the pooled [N, C, 1, 1]: Flatten + Gemm (weight [O][I], transB).
static int emit_gemm(Emit* st, int index, const Node* n) {
    const BlockEmit* e = st->e;
    OnnxGraph* g = st->g;
    const SlotShape* s = &e->b->slots[n->in];
    if (s->h != 1 || s->w != 1)
        return hw_runtime(st->err, NULL, 0, "%s: a fully connected layer on a %dx%d map cannot be exported", e->label,
                          s->h, s->w);
    const char* flat = onnx_name(g, "%s/flat_%d", e->label, index);
    Onnx__NodeProto* f = onnx_node(g, "Flatten", node_name(st, "Flatten", index), 1, (const char*[]){slot_name(st, n->in)}, 1, &flat);
    onnx_attr_int(g, f, "axis", 1);
    const ParamDesc* w = &e->b->params[n->weight];
    int64_t wd[2] = {w->dims[0], w->dims[1]};
    const char* ins[3] = {flat, onnx_init_f32(g, param_name(st, n->weight, "weight"), wd, 2, e->params + w->offset), NULL};
    if (n->bias >= 0) ins[2] = onnx_init_f32(g, param_name(st, n->bias, "bias"), wd, 1, e->params + e->b->params[n->bias].offset);
    const char* out = slot_name(st, n->out);
    Onnx__NodeProto* gemm = onnx_node(g, "Gemm", node_name(st, "Gemm", index), n->bias >= 0 ? 3 : 2, ins, 1, &out);
    onnx_attr_int(g, gemm, "transB", 1);
    return 0;
}

// ShuffleNet shuffle, out[j*groups + g] = in[g*(C/groups) + j] (kernels/ops.h):
// Reshape [N, groups, C/groups, H, W], Transpose(0, 2, 1, 3, 4), Reshape [N, C, H, W].
static void emit_shuffle(Emit* st, int index, const Node* n) {
    OnnxGraph* g = st->g;
    const SlotShape* s = &st->e->b->slots[n->in];
    const char* label = st->e->label;
    int64_t five[5] = {0, n->groups, s->c / n->groups, s->h, s->w}, four[4] = {0, s->c, s->h, s->w}, d5 = 5, d4 = 4;
    const char* split_shape = onnx_init_i64(g, onnx_name(g, "%s/shuffle_%d.shape5", label, index), &d5, 1, five);
    const char* merge_shape = onnx_init_i64(g, onnx_name(g, "%s/shuffle_%d.shape4", label, index), &d4, 1, four);
    const char* grouped = onnx_name(g, "%s/shuffle_%d.grouped", label, index);
    const char* swapped = onnx_name(g, "%s/shuffle_%d.swapped", label, index);
    const char* out = slot_name(st, n->out);
    onnx_node(g, "Reshape", node_name(st, "Reshape", index), 2, (const char*[]){slot_name(st, n->in), split_shape}, 1, &grouped);
    Onnx__NodeProto* t = onnx_node(g, "Transpose", node_name(st, "Transpose", index), 1, &grouped, 1, &swapped);
    onnx_attr_ints(g, t, "perm", (int64_t[]){0, 2, 1, 3, 4}, 5);
    onnx_node(g, "Reshape", node_name(st, "Reshape2", index), 2, (const char*[]){swapped, merge_shape}, 1, &out);
}

// Channel split into the first C(out) channels and the rest (Split-13: sizes as an input).
static void emit_split(Emit* st, int index, const Node* n) {
    OnnxGraph* g = st->g;
    const Block* b = st->e->b;
    int64_t sizes[2] = {b->slots[n->out].c, b->slots[n->out2].c}, d = 2;
    const char* split = onnx_init_i64(g, onnx_name(g, "%s/split_%d.sizes", st->e->label, index), &d, 1, sizes);
    const char* outs[2] = {slot_name(st, n->out), slot_name(st, n->out2)};
    Onnx__NodeProto* s = onnx_node(g, "Split", node_name(st, "Split", index), 2,
                                   (const char*[]){slot_name(st, n->in), split}, 2, outs);
    onnx_attr_int(g, s, "axis", 1);
}

// GAP, SE scale, residual add and concat.
static void emit_simple(Emit* st, int index, const Node* n) {
    static const char* const kOp[] = {[NODE_GAP] = "GlobalAveragePool", [NODE_SCALE] = "Mul", [NODE_ADD] = "Add",
                                      [NODE_CONCAT] = "Concat"};
    const char* op = kOp[n->kind];
    const char* ins[2] = {slot_name(st, n->in), n->in2 >= 0 ? slot_name(st, n->in2) : NULL};
    const char* out = slot_name(st, n->out);
    Onnx__NodeProto* node = onnx_node(st->g, op, node_name(st, op, index), n->in2 >= 0 ? 2 : 1, ins, 1, &out);
    if (n->kind == NODE_CONCAT) onnx_attr_int(st->g, node, "axis", 1);
}

// The BN node right after conv node i that alone reads its output (so the
// pre-BN value need not exist), or NULL.
static const Node* bn_after(const Block* b, int i) {
    if (i + 1 >= b->node_count) return NULL;
    const Node* next = &b->nodes[i + 1];
    int slot = b->nodes[i].out;
    if (next->kind != NODE_BN || next->in != slot || b->output == slot) return NULL;
    for (int j = i + 2; j < b->node_count; j++)
        if (b->nodes[j].in == slot || b->nodes[j].in2 == slot) return NULL;
    return next;
}

static int emit_node(Emit* st, int i, int* consumed) {
    const Block* b = st->e->b;
    const Node* n = &b->nodes[i];
    *consumed = 1;
    const Node* bn = bn_after(b, i);
    switch (n->kind) {
    case NODE_LINEAR:
    case NODE_CONV:
    case NODE_DWCONV:
        if (n->kind == NODE_LINEAR && !b->params[n->weight].is_conv) return emit_gemm(st, i, n);
        if (bn) *consumed = 2;  // the BN lives in the conv's weights
        return emit_conv(st, i, n, bn);
    case NODE_BN:
        return hw_runtime(st->err, NULL, 0, "%s: a BatchNorm without a convolution before it cannot be folded",
                          st->e->label);
    case NODE_ACT: emit_act(st, n->act, slot_name(st, n->in), slot_name(st, n->out), i); return 0;
    case NODE_SHUFFLE: emit_shuffle(st, i, n); return 0;
    case NODE_SPLIT: emit_split(st, i, n); return 0;
    default: emit_simple(st, i, n); return 0;
    }
}

int onnx_emit_block(const BlockEmit* e, const char** out_name, HwErr* err) {
    Emit st = {.e = e, .g = e->g, .err = err};
    st.slots[0] = e->input;
    for (int i = 0, step = 1; i < e->b->node_count; i += step)
        if (emit_node(&st, i, &step) < 0) return -1;
    *out_name = slot_name(&st, e->b->output);
    return 0;
}
