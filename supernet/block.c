// Builders that compile operators into node lists (see block.h).
#include "supernet/block.h"

#include <stdio.h>
#include <string.h>

// out = a + "." + b within PARAM_NAME_MAX; -1 if it does not fit.
static int join_name(char* out, const char* a, const char* b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la + 1 + lb >= PARAM_NAME_MAX) return -1;
    memcpy(out, a, la);
    out[la] = '.';
    memcpy(out + la + 1, b, lb + 1);
    return 0;
}

static int add_slot(Block* b, int h, int w, int c) {
    if (b->slot_count >= BLOCK_MAX_SLOTS) return -1;
    b->slots[b->slot_count] = (SlotShape){h, w, c};
    return b->slot_count++;
}

static Node* add_node(Block* b, NodeKind kind, int in, int in2) {
    if (b->node_count >= BLOCK_MAX_NODES) return NULL;
    Node* n = &b->nodes[b->node_count++];
    *n = (Node){.kind = kind, .in = in, .in2 = in2, .out = -1, .out2 = -1, .weight = -1,
                .bias = -1, .running = -1, .stats = -1, .act = ACT_NONE};
    return n;
}

static int add_param(Block* b, const char* prefix, const char* suffix, ParamLayout layout,
                     int d0, int d1, int d2, int d3, int decay) {
    if (b->param_count >= BLOCK_MAX_PARAMS) return -1;
    ParamDesc* p = &b->params[b->param_count];
    memset(p, 0, sizeof *p);
    if (join_name(p->name, prefix, suffix) < 0) return -1;
    p->layout = layout;
    int dims[4] = {d0, d1, d2, d3};
    p->numel = 1;
    for (int i = 0; i < 4; i++) {
        p->dims[i] = dims[i];
        if (dims[i]) p->numel *= (size_t)dims[i];
    }
    p->offset = b->param_floats;
    p->decay = decay;
    b->param_floats += p->numel;
    return b->param_count++;
}

// Builders below return the output slot, or -1 when a fixed capacity is hit
// (the capacities exceed every operator of the pool, so -1 is a bug guard).

static int conv(Block* b, int in, int out_c, int k, int stride, const char* name) {
    SlotShape s = b->slots[in];
    int oh = conv_out_size(s.h, k, stride, k / 2), ow = conv_out_size(s.w, k, stride, k / 2);
    int out = add_slot(b, oh, ow, out_c);
    Node* n = add_node(b, NODE_CONV, in, -1);
    if (out < 0 || !n) return -1;
    n->out = out;
    n->kernel = k, n->stride = stride, n->pad = k / 2;
    n->weight = add_param(b, name, "weight", LAYOUT_CONV_OHWI, out_c, k, k, s.c, 1);
    b->macs += (double)oh * ow * out_c * k * k * s.c;
    return n->weight < 0 ? -1 : out;
}

static int dwconv(Block* b, int in, int k, int stride, const char* name) {
    SlotShape s = b->slots[in];
    int oh = conv_out_size(s.h, k, stride, k / 2), ow = conv_out_size(s.w, k, stride, k / 2);
    int out = add_slot(b, oh, ow, s.c);
    Node* n = add_node(b, NODE_DWCONV, in, -1);
    if (out < 0 || !n) return -1;
    n->out = out;
    n->kernel = k, n->stride = stride, n->pad = k / 2;
    n->weight = add_param(b, name, "weight", LAYOUT_DW_KKC, k, k, s.c, 0, 1);
    b->macs += (double)oh * ow * s.c * k * k;
    return n->weight < 0 ? -1 : out;
}

static int linear(Block* b, int in, int out_c, const char* name, int with_bias, int is_conv) {
    SlotShape s = b->slots[in];
    int out = add_slot(b, s.h, s.w, out_c);
    Node* n = add_node(b, NODE_LINEAR, in, -1);
    if (out < 0 || !n) return -1;
    n->out = out;
    n->weight = add_param(b, name, "weight", LAYOUT_LINEAR, out_c, s.c, 0, 0, 1);
    if (n->weight < 0) return -1;
    b->params[n->weight].is_conv = is_conv;
    if (with_bias && (n->bias = add_param(b, name, "bias", LAYOUT_VECTOR, out_c, 0, 0, 0, 0)) < 0)
        return -1;
    b->macs += (double)s.h * s.w * out_c * s.c;
    return out;
}

static int pointwise(Block* b, int in, int out_c, const char* name) {
    return linear(b, in, out_c, name, 0, 1);
}

// BatchNorm fused with the activation that follows it (act may be ACT_NONE):
// one pass instead of two, and the pre-activation tensor is never stored.
static int batchnorm(Block* b, int in, const char* name, Activation act) {
    SlotShape s = b->slots[in];
    int out = add_slot(b, s.h, s.w, s.c);
    Node* n = add_node(b, NODE_BN, in, -1);
    if (out < 0 || !n || b->running_count >= BLOCK_MAX_PARAMS) return -1;
    n->out = out;
    n->act = act;
    n->weight = add_param(b, name, "weight", LAYOUT_VECTOR, s.c, 0, 0, 0, 0);
    n->bias = add_param(b, name, "bias", LAYOUT_VECTOR, s.c, 0, 0, 0, 0);
    memcpy(b->running_names[b->running_count], name, strlen(name) + 1);
    b->running_channels[b->running_count++] = s.c;
    n->running = (int)b->running_floats;
    b->running_floats += 2 * (size_t)s.c;
    n->stats = (int)b->stat_floats;
    b->stat_floats += 2 * (size_t)s.c;
    return (n->weight < 0 || n->bias < 0) ? -1 : out;
}

static int activation(Block* b, int in, Activation act) {
    if (act == ACT_NONE) return in;
    SlotShape s = b->slots[in];
    int out = add_slot(b, s.h, s.w, s.c);
    Node* n = add_node(b, NODE_ACT, in, -1);
    if (out < 0 || !n) return -1;
    n->out = out;
    n->act = act;
    return out;
}

static int binary(Block* b, NodeKind kind, int in, int in2, int out_c) {
    SlotShape s = b->slots[in];
    int out = add_slot(b, s.h, s.w, out_c);
    Node* n = add_node(b, kind, in, in2);
    if (out < 0 || !n) return -1;
    n->out = out;
    return out;
}

// conv/dw/pw followed by BN and an activation; name is the module prefix.
static int conv_bn_act(Block* b, int in, NodeKind kind, int out_c, int k, int stride,
                       const char* name, Activation act) {
    char conv_name[PARAM_NAME_MAX], bn_name[PARAM_NAME_MAX];
    if (join_name(conv_name, name, "conv") < 0 || join_name(bn_name, name, "bn") < 0) return -1;
    int x;
    if (kind == NODE_CONV) x = conv(b, in, out_c, k, stride, conv_name);
    else if (kind == NODE_DWCONV) x = dwconv(b, in, k, stride, conv_name);
    else x = pointwise(b, in, out_c, conv_name);
    if (x < 0) return -1;
    return batchnorm(b, x, bn_name, act);
}

// Squeeze-excitation: GAP, fc1 + ReLU, fc2 + h-sigmoid, scale.
static int squeeze_excite(Block* b, int in, const char* prefix) {
    int c = b->slots[in].c;
    char name[PARAM_NAME_MAX];
    int g = add_slot(b, 1, 1, c);
    Node* n = add_node(b, NODE_GAP, in, -1);
    if (g < 0 || !n) return -1;
    n->out = g;
    if (join_name(name, prefix, "fc1") < 0) return -1;
    int h = linear(b, g, se_hidden(c), name, 1, 1);
    if (h < 0 || (h = activation(b, h, ACT_RELU)) < 0) return -1;
    if (join_name(name, prefix, "fc2") < 0) return -1;
    int gate = linear(b, h, c, name, 1, 1);
    if (gate < 0 || (gate = activation(b, gate, ACT_HSIGMOID)) < 0) return -1;
    return binary(b, NODE_SCALE, in, gate, c);
}

static int build_mbconv(Block* b, const OpSpec* op, int out_c, int stride, Activation act) {
    int in_c = b->slots[0].c, x = 0;
    if (op->hswish) act = ACT_HSWISH;
    if (op->expand != 1 && (x = conv_bn_act(b, x, NODE_LINEAR, in_c * op->expand, 1, 1, "expand", act)) < 0)
        return -1;
    if ((x = conv_bn_act(b, x, NODE_DWCONV, 0, op->kernel, stride, "dw", act)) < 0) return -1;
    if (op->se && (x = squeeze_excite(b, x, "se")) < 0) return -1;
    if ((x = conv_bn_act(b, x, NODE_LINEAR, out_c, 1, 1, "project", ACT_NONE)) < 0) return -1;
    if (stride == 1 && in_c == out_c) x = binary(b, NODE_ADD, x, 0, out_c);
    return x;
}

static int build_fused(Block* b, const OpSpec* op, int out_c, int stride) {
    int in_c = b->slots[0].c;
    int x = conv_bn_act(b, 0, NODE_CONV, in_c * op->expand, 3, stride, "expand", ACT_RELU6);
    if (x < 0 || (x = conv_bn_act(b, x, NODE_LINEAR, out_c, 1, 1, "project", ACT_NONE)) < 0) return -1;
    if (stride == 1 && in_c == out_c) x = binary(b, NODE_ADD, x, 0, out_c);
    return x;
}

static int build_sep(Block* b, const OpSpec* op, int out_c, int stride) {
    int in_c = b->slots[0].c;
    int x = conv_bn_act(b, 0, NODE_DWCONV, 0, op->kernel, stride, "dw", ACT_RELU6);
    if (x < 0 || (x = conv_bn_act(b, x, NODE_LINEAR, out_c, 1, 1, "project", ACT_NONE)) < 0) return -1;
    if (stride == 1 && in_c == out_c) x = binary(b, NODE_ADD, x, 0, out_c);
    return x;
}

// SPOS main branch: pw-dw-pw (shuffle_k) or three dw-pw pairs (shuffle_x).
static int shuffle_main(Block* b, const OpSpec* op, int x, int mid, int out_main, int stride) {
    if (op->family == OPF_SHUFFLE) {
        if ((x = conv_bn_act(b, x, NODE_LINEAR, mid, 1, 1, "main.pw1", ACT_RELU)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_DWCONV, 0, op->kernel, stride, "main.dw", ACT_NONE)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_LINEAR, out_main, 1, 1, "main.pw2", ACT_RELU)) < 0) return -1;
    } else {
        if ((x = conv_bn_act(b, x, NODE_DWCONV, 0, 3, stride, "main.dw1", ACT_NONE)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_LINEAR, mid, 1, 1, "main.pw1", ACT_RELU)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_DWCONV, 0, 3, 1, "main.dw2", ACT_NONE)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_LINEAR, mid, 1, 1, "main.pw2", ACT_RELU)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_DWCONV, 0, 3, 1, "main.dw3", ACT_NONE)) < 0) return -1;
        if ((x = conv_bn_act(b, x, NODE_LINEAR, out_main, 1, 1, "main.pw3", ACT_RELU)) < 0) return -1;
    }
    if (op->se) x = squeeze_excite(b, x, "main.se");
    return x;
}

static int build_shuffle(Block* b, const OpSpec* op, int out_c, int stride) {
    int in_c = b->slots[0].c, mid = out_c / 2, proj, main_in;
    if (stride == 1 && in_c == out_c) {
        // SPOS channel_shuffle: even channels bypass, odd ones enter the branch.
        int shuffled = add_slot(b, b->slots[0].h, b->slots[0].w, in_c);
        Node* n = add_node(b, NODE_SHUFFLE, 0, -1);
        if (shuffled < 0 || !n) return -1;
        n->out = shuffled;
        n->groups = in_c / 2;
        proj = add_slot(b, b->slots[0].h, b->slots[0].w, in_c / 2);
        main_in = add_slot(b, b->slots[0].h, b->slots[0].w, in_c - in_c / 2);
        Node* s = add_node(b, NODE_SPLIT, shuffled, -1);
        if (proj < 0 || main_in < 0 || !s) return -1;
        s->out = proj, s->out2 = main_in;
    } else {
        int k = op->family == OPF_SHUFFLE ? op->kernel : 3;
        proj = conv_bn_act(b, 0, NODE_DWCONV, 0, k, stride, "proj.dw", ACT_NONE);
        if (proj < 0 || (proj = conv_bn_act(b, proj, NODE_LINEAR, in_c, 1, 1, "proj.pw", ACT_RELU)) < 0)
            return -1;
        main_in = 0;
    }
    int proj_c = b->slots[proj].c;
    int main = shuffle_main(b, op, main_in, mid, out_c - proj_c, stride);
    if (main < 0) return -1;
    return binary(b, NODE_CONCAT, proj, main, out_c);
}

static void block_reset(Block* b, const char* name, int in_h, int in_w, int in_c) {
    memset(b, 0, sizeof *b);
    snprintf(b->op, sizeof b->op, "%s", name);
    add_slot(b, in_h, in_w, in_c);
}

int block_build_operator(Block* b, const OpSpec* op, int in_h, int in_w, int in_c, int out_c,
                         int stride, Activation default_act, const char** why) {
    char name[OP_NAME_MAX];
    op_name(op, name, sizeof name);
    block_reset(b, name, in_h, in_w, in_c);
    if (!op_valid(op, in_c, out_c, stride, why)) return -1;
    int out;
    switch (op->family) {
    case OPF_MBCONV: out = build_mbconv(b, op, out_c, stride, default_act); break;
    case OPF_FUSED: out = build_fused(b, op, out_c, stride); break;
    case OPF_SEP: out = build_sep(b, op, out_c, stride); break;
    case OPF_SHUFFLE:
    case OPF_SHUFFLE_X: out = build_shuffle(b, op, out_c, stride); break;
    default: out = 0; break;  // skip: the output is the input
    }
    if (out < 0) {
        if (why) *why = "operator exceeds the block capacity";
        return -1;
    }
    b->output = out;
    return 0;
}

int block_build_stem(Block* b, int in_h, int in_w, int in_c, int out_c, int kernel, int stride,
                     Activation act, const OpSpec* first_op, int first_out_c, const char** why) {
    block_reset(b, "stem", in_h, in_w, in_c);
    int x = conv_bn_act(b, 0, NODE_CONV, out_c, kernel, stride, "stem", act);
    if (x < 0) {
        *why = "stem exceeds the block capacity";
        return -1;
    }
    if (first_op) {
        // Compile the first operator on the stem output and splice it in.
        Block tail;
        if (block_build_operator(&tail, first_op, b->slots[x].h, b->slots[x].w, out_c, first_out_c,
                                 1, act, why) < 0)
            return -1;
        int base = b->slot_count - 1;  // tail slot 0 == our slot x
        for (int s = 1; s < tail.slot_count; s++) add_slot(b, tail.slots[s].h, tail.slots[s].w, tail.slots[s].c);
        size_t param_base = b->param_floats, running_base = b->running_floats, stat_base = b->stat_floats;
        for (int i = 0; i < tail.param_count; i++) {
            ParamDesc p = tail.params[i];
            if (join_name(p.name, "stem.first", tail.params[i].name) < 0) {
                *why = "stem name too long";
                return -1;
            }
            p.offset += param_base;
            b->params[b->param_count++] = p;
        }
        b->param_floats += tail.param_floats;
        for (int i = 0; i < tail.running_count; i++) {
            if (join_name(b->running_names[b->running_count], "stem.first", tail.running_names[i]) < 0) {
                *why = "stem name too long";
                return -1;
            }
            b->running_channels[b->running_count++] = tail.running_channels[i];
        }
        b->running_floats += tail.running_floats;
        b->stat_floats += tail.stat_floats;
        int param_index_base = b->param_count - tail.param_count;
        for (int i = 0; i < tail.node_count; i++) {
            Node n = tail.nodes[i];
            n.in = n.in >= 0 ? n.in + base : -1;
            n.in2 = n.in2 >= 0 ? n.in2 + base : -1;
            n.out = n.out >= 0 ? n.out + base : -1;
            n.out2 = n.out2 >= 0 ? n.out2 + base : -1;
            if (n.weight >= 0) n.weight += param_index_base;
            if (n.bias >= 0) n.bias += param_index_base;
            if (n.running >= 0) n.running += (int)running_base;
            if (n.stats >= 0) n.stats += (int)stat_base;
            b->nodes[b->node_count++] = n;
        }
        b->macs += tail.macs;
        x = tail.output + base;
    }
    b->output = x;
    return 0;
}

int block_build_head(Block* b, int in_h, int in_w, int in_c, int features, Activation act,
                     int classes, const char** why) {
    block_reset(b, "head", in_h, in_w, in_c);
    int x = 0;
    if (features > 0 && (x = conv_bn_act(b, x, NODE_LINEAR, features, 1, 1, "head", act)) < 0) {
        *why = "head exceeds the block capacity";
        return -1;
    }
    int g = add_slot(b, 1, 1, b->slots[x].c);
    Node* n = add_node(b, NODE_GAP, x, -1);
    n->out = g;
    x = linear(b, g, classes, "classifier", 1, 0);
    b->output = x;
    return 0;
}

size_t block_activation_floats(const Block* b, int batch) {
    size_t total = 0;
    for (int s = 1; s < b->slot_count; s++) total += slot_numel(b, s, batch);
    return total;
}

size_t block_max_slot_floats(const Block* b, int batch) {
    size_t m = 0;
    for (int s = 0; s < b->slot_count; s++)
        if (slot_numel(b, s, batch) > m) m = slot_numel(b, s, batch);
    return m;
}

size_t block_scratch_floats(const Block* b, const OpContext* ctx, int batch) {
    size_t m = 0;
    for (int i = 0; i < b->node_count; i++) {
        const Node* n = &b->nodes[i];
        SlotShape s = b->slots[n->in];
        ConvShape cs = {batch, s.h, s.w, s.c, b->slots[n->out].c, n->kernel, n->stride, n->pad};
        size_t need = 0;
        if (n->kind == NODE_CONV) need = conv2d_scratch_floats(ctx, &cs);
        else if (n->kind == NODE_DWCONV) need = depthwise_conv2d_scratch_floats(ctx, &cs);
        else if (n->kind == NODE_BN) need = batchnorm_scratch_floats(ctx, s.c);
        if (need > m) m = need;
    }
    return m;
}

