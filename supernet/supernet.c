// Supernet construction, parameters and the forward/backward executor.
#include "supernet/supernet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "common/rng.h"

// ---------------------------------------------------------------- building

static int build_blocks(Supernet* sn, HwErr* err) {
    const Space* sp = &sn->space;
    int n = 2;
    for (int l = 0; l < sp->n_layers; l++) n += sp->layers[l].n_ops;
    sn->n_blocks = n;
    sn->blocks = calloc((size_t)n, sizeof(Block));
    sn->layer_first = calloc((size_t)sp->n_layers + 1, sizeof(int));
    if (!sn->blocks || !sn->layer_first) return hw_runtime(err, NULL, 0, "out of memory building the supernet");
    const char* why = NULL;
    const OpSpec* first = sp->stem.has_first ? &sp->stem.first : NULL;
    if (block_build_stem(&sn->blocks[0], sp->in_h, sp->in_w, sp->in_c, sp->stem.out_c, sp->stem.kernel,
                         sp->stem.stride, sp->stem.act, first, sp->stem.first_out_c, &why) < 0)
        return hw_bad_input(err, sp->path, 0, "stem: %s", why);
    int b = 1;
    for (int l = 0; l < sp->n_layers; l++) {
        const SpaceLayer* L = &sp->layers[l];
        sn->layer_first[l] = b;
        for (int o = 0; o < L->n_ops; o++, b++)
            if (block_build_operator(&sn->blocks[b], &L->ops[o], L->in_h, L->in_w, L->in_c, L->out_c,
                                     L->stride, sp->block_act, &why) < 0)
                return hw_bad_input(err, sp->path, 0, "layer %d: %s: %s", l, L->names[o], why);
    }
    sn->layer_first[sp->n_layers] = b;
    const Block* last = &sn->blocks[b - 1];
    SlotShape o = last->slots[last->output];
    if (block_build_head(&sn->blocks[b], o.h, o.w, o.c, sp->head.features, sp->head.act, sp->classes, &why) < 0)
        return hw_bad_input(err, sp->path, 0, "head: %s", why);
    return 0;
}

// Position of a block: 0 stem, 1..n layers, n+1 head.
static int block_position(const Supernet* sn, int block) {
    if (block == 0) return 0;
    if (block == sn->n_blocks - 1) return sn->space.n_layers + 1;
    for (int l = 0; l < sn->space.n_layers; l++)
        if (block < sn->layer_first[l + 1]) return l + 1;
    return -1;
}

int supernet_block_layer(const Supernet* sn, int block) { return block_position(sn, block) - 1; }

static void* backend_alloc(Supernet* sn, size_t floats, int* failed) {
    void* p = sn->ops->alloc(&sn->ctx, floats * sizeof(float));
    if (!p) *failed = 1;
    return p;
}

static int allocate(Supernet* sn, HwErr* err) {
    int positions = supernet_positions(sn), B = sn->max_batch, failed = 0;
    sn->param_offset = calloc((size_t)sn->n_blocks, sizeof(size_t));
    sn->running_offset = calloc((size_t)sn->n_blocks, sizeof(size_t));
    sn->bn_batches = calloc((size_t)sn->n_blocks, sizeof(int64_t));
    sn->act_offset = calloc((size_t)positions, sizeof(size_t));
    sn->stat_offset = calloc((size_t)positions, sizeof(size_t));
    sn->run_blocks = calloc((size_t)positions, sizeof(int));
    sn->outputs = calloc((size_t)positions, sizeof(float*));
    size_t* act_need = calloc((size_t)positions, sizeof(size_t));
    size_t* stat_need = calloc((size_t)positions, sizeof(size_t));
    if (!sn->param_offset || !sn->running_offset || !sn->bn_batches || !sn->act_offset ||
        !sn->stat_offset || !sn->run_blocks || !sn->outputs || !act_need || !stat_need) {
        free(act_need);
        free(stat_need);
        return hw_runtime(err, NULL, 0, "out of memory building the supernet");
    }
    size_t grad_need = 0, slot_need = 0, scratch_need = 1;
    for (int b = 0; b < sn->n_blocks; b++) {
        const Block* blk = &sn->blocks[b];
        int p = block_position(sn, b);
        sn->param_offset[b] = sn->param_floats;
        sn->param_floats += blk->param_floats;
        sn->running_offset[b] = sn->running_floats;
        sn->running_floats += blk->running_floats;
        size_t a = block_activation_floats(blk, B);
        if (a > act_need[p]) act_need[p] = a;
        if (blk->stat_floats > stat_need[p]) stat_need[p] = blk->stat_floats;
        if (a > grad_need) grad_need = a;
        size_t m = block_max_slot_floats(blk, B);
        if (m > slot_need) slot_need = m;
        size_t s = block_scratch_floats(blk, &sn->ctx, B);
        if (s > scratch_need) scratch_need = s;
    }
    size_t act_total = 0, stat_total = 0, act_most = 0;
    for (int p = 0; p < positions; p++) {
        sn->act_offset[p] = act_total;
        act_total += act_need[p];
        sn->stat_offset[p] = stat_total;
        stat_total += stat_need[p];
        if (act_need[p] > act_most) act_most = act_need[p];
    }
    // Inference keeps no activations for a backward, so positions alternate
    // between two regions and the working set stays in cache.
    if (act_total < 2 * act_most) act_total = 2 * act_most;
    sn->eval_offset[0] = 0;
    sn->eval_offset[1] = act_most;
    free(act_need);
    free(stat_need);
    const Space* sp = &sn->space;
    sn->params = backend_alloc(sn, sn->param_floats, &failed);
    sn->grads = backend_alloc(sn, sn->param_floats, &failed);
    sn->momentum = backend_alloc(sn, sn->param_floats, &failed);
    sn->running = backend_alloc(sn, sn->running_floats + 1, &failed);
    sn->act_arena = backend_alloc(sn, act_total + 1, &failed);
    sn->stat_arena = backend_alloc(sn, stat_total + 1, &failed);
    sn->grad_arena = backend_alloc(sn, grad_need + 1, &failed);
    for (int i = 0; i < 2; i++) {
        sn->boundary[i] = backend_alloc(sn, slot_need, &failed);
        sn->tmp[i] = backend_alloc(sn, slot_need, &failed);
    }
    sn->scratch = backend_alloc(sn, scratch_need, &failed);
    sn->logits = backend_alloc(sn, (size_t)B * sp->classes, &failed);
    sn->dlogits = backend_alloc(sn, (size_t)B * sp->classes, &failed);
    sn->loss = backend_alloc(sn, 1, &failed);
    sn->correct = backend_alloc(sn, 2, &failed);
    for (int i = 0; i < OPS_UPLOAD_SLOTS; i++) {
        sn->slot_labels[i] = backend_alloc(sn, (size_t)B, &failed);
        sn->slot_images[i] = backend_alloc(sn, (size_t)B * sp->in_h * sp->in_w * sp->in_c, &failed);
    }
    supernet_select_input(sn, 0);
    sn->grads_momentum_zero = !failed;  // alloc returns zeroed memory (kernels/op_list.h)
    if (failed)
        return hw_runtime(err, NULL, 0,
                          "out of %s memory for the supernet at batch %d (activations %.1f MB, parameters %.1f MB)",
                          sn->ops->name, B, act_total * 4e-6, sn->param_floats * 12e-6);
    return 0;
}

Supernet* supernet_create(const Space* space, const Ops* ops, const OpContext* ctx, int max_batch,
                          HwErr* err) {
    Supernet* sn = calloc(1, sizeof(Supernet));
    if (!sn) {
        hw_runtime(err, NULL, 0, "out of memory");
        return NULL;
    }
    sn->space = *space;
    sn->ops = ops;
    sn->ctx = *ctx;
    sn->max_batch = max_batch;
    const char* prof = getenv("HWNAS_PROFILE");
    sn->profile = prof && prof[0] == '1';
    if (build_blocks(sn, err) < 0 || allocate(sn, err) < 0) {
        supernet_destroy(sn);
        return NULL;
    }
    return sn;
}

void supernet_select_input(Supernet* sn, int slot) {
    sn->images = sn->slot_images[slot];
    sn->labels = sn->slot_labels[slot];
}

static const char* const kNodeNames[] = {"conv", "dwconv", "linear", "bn", "act", "gap",
                                         "scale", "add", "concat", "split", "shuffle"};

void supernet_destroy(Supernet* sn) {
    if (!sn) return;
    if (sn->profile) {
        for (int k = 0; k <= NODE_SHUFFLE; k++)
            fprintf(stderr, "profile %-8s forward %8.3f s  backward %8.3f s\n", kNodeNames[k], sn->node_seconds[0][k],
                    sn->node_seconds[1][k]);
    }
    void* dev[] = {sn->params, sn->grads, sn->momentum, sn->running, sn->act_arena, sn->stat_arena,
                   sn->grad_arena, sn->boundary[0], sn->boundary[1], sn->tmp[0], sn->tmp[1],
                   sn->scratch, sn->logits, sn->dlogits, sn->loss, sn->correct};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) sn->ops->release(&sn->ctx, dev[i]);
    for (int i = 0; i < OPS_UPLOAD_SLOTS; i++) {
        if (sn->slot_labels[i]) sn->ops->release(&sn->ctx, sn->slot_labels[i]);
        if (sn->slot_images[i]) sn->ops->release(&sn->ctx, sn->slot_images[i]);
    }
    free(sn->blocks);
    free(sn->layer_first);
    free(sn->param_offset);
    free(sn->running_offset);
    free(sn->bn_batches);
    free(sn->act_offset);
    free(sn->stat_offset);
    free(sn->run_blocks);
    free(sn->outputs);
    free(sn);
}

// ---------------------------------------------------------------- parameters

static void init_param(const ParamDesc* p, float* host, Rng* rng) {
    if (p->layout == LAYOUT_VECTOR) {
        // BN gamma (".weight" of a ".bn") is 1; biases and BN beta are 0.
        size_t len = strlen(p->name);
        int is_gamma = len > 10 && !strcmp(p->name + len - 10, ".bn.weight");
        for (size_t i = 0; i < p->numel; i++) host[i] = is_gamma ? 1.0f : 0.0f;
        return;
    }
    float stdv;
    if (!strncmp(p->name, "classifier.", 11)) {
        stdv = 0.01f;
    } else {
        size_t fan_in = p->layout == LAYOUT_CONV_OHWI ? (size_t)p->dims[1] * p->dims[2] * p->dims[3]
                        : p->layout == LAYOUT_DW_KKC  ? (size_t)p->dims[0] * p->dims[1]
                                                      : (size_t)p->dims[1];
        stdv = sqrtf(2.0f / (float)fan_in);
    }
    for (size_t i = 0; i < p->numel; i++) host[i] = stdv * rng_normal(rng);
}

// The BatchNorm statistics of a block before any batch: every mean 0,
// every variance 1 (r: the block's running_floats).
static void fresh_running_stats(const Block* blk, float* r) {
    for (int i = 0, off = 0; i < blk->running_count; off += 2 * blk->running_channels[i], i++) {
        for (int c = 0; c < blk->running_channels[i]; c++) {
            r[off + c] = 0.0f;
            r[off + blk->running_channels[i] + c] = 1.0f;
        }
    }
}

// The CPU backend's memory is host memory: the weights are written in place
// rather than into a staging buffer and copied, which at ImageNet scale
// touched 600 MB twice.
static int backend_is_host(const Supernet* sn) { return sn->ops == &ops_cpu; }

// Every tensor draws from its own stream keyed by (seed, block, tensor), so
// the values do not depend on which thread does a block or in what order;
// Box-Muller for 150 M weights is most of the remaining start-up time.
static void init_all_params(const Supernet* sn, uint64_t seed, float* dst) {
    int threads = sn->ctx.threads > 1 ? sn->ctx.threads : 1;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int b = 0; b < sn->n_blocks; b++) {
        const Block* blk = &sn->blocks[b];
        for (int i = 0; i < blk->param_count; i++) {
            Rng rng;
            rng_seed(&rng, seed, (uint64_t)b, (uint64_t)i, 0);
            init_param(&blk->params[i], dst + sn->param_offset[b] + blk->params[i].offset, &rng);
        }
    }
}

static int init_weights(Supernet* sn, uint64_t seed, HwErr* err) {
    if (backend_is_host(sn)) {
        init_all_params(sn, seed, sn->params);
        return 0;
    }
    float* host = malloc(sn->param_floats * sizeof(float) + sizeof(float));
    if (!host) return hw_runtime(err, NULL, 0, "out of memory for the initial weights");
    init_all_params(sn, seed, host);
    sn->ops->upload(&sn->ctx, sn->params, host, sn->param_floats * sizeof(float));
    free(host);
    return 0;
}

int supernet_init_params(Supernet* sn, uint64_t seed, HwErr* err) {
    float* host = malloc(sn->running_floats * sizeof(float) + sizeof(float));
    if (!host) return hw_runtime(err, NULL, 0, "out of memory for the initial weights");
    if (init_weights(sn, seed, err) < 0) {
        free(host);
        return -1;
    }
    // Fresh from alloc they are zero already; zeroing would touch every page.
    if (!sn->grads_momentum_zero) {
        sn->ops->fill_zero(&sn->ctx, sn->grads, sn->param_floats * sizeof(float));
        sn->ops->fill_zero(&sn->ctx, sn->momentum, sn->param_floats * sizeof(float));
        sn->grads_momentum_zero = 1;
    }
    for (int b = 0; b < sn->n_blocks; b++) {
        fresh_running_stats(&sn->blocks[b], host + sn->running_offset[b]);
        sn->bn_batches[b] = 0;
    }
    sn->ops->upload(&sn->ctx, sn->running, host, sn->running_floats * sizeof(float));
    free(host);
    return 0;
}

void supernet_param_name(const Supernet* sn, int block, const char* rel, int subnet, char* out,
                         size_t cap) {
    int layer = supernet_block_layer(sn, block);
    if (layer < 0 || layer >= sn->space.n_layers)
        snprintf(out, cap, "%s", rel);
    else if (subnet)
        snprintf(out, cap, "layers.%d.%s", layer, rel);
    else
        snprintf(out, cap, "layers.%d.%s.%s", layer, sn->blocks[block].op, rel);
}

int supernet_block_at(const Supernet* sn, const int* path, int position) {
    if (position == 0) return 0;
    if (position == sn->space.n_layers + 1) return sn->n_blocks - 1;
    return sn->layer_first[position - 1] + path[position - 1];
}

double supernet_path_macs(const Supernet* sn, const int* path) {
    double m = 0;
    for (int p = 0; p < supernet_positions(sn); p++) m += sn->blocks[supernet_block_at(sn, path, p)].macs;
    return m;
}

double supernet_path_mflops(const Supernet* sn, const int* path) { return 2.0 * supernet_path_macs(sn, path) / 1e6; }

double supernet_path_params(const Supernet* sn, const int* path) {
    double m = 0;
    for (int p = 0; p < supernet_positions(sn); p++)
        m += (double)sn->blocks[supernet_block_at(sn, path, p)].param_floats;
    return m;
}

// ---------------------------------------------------------------- executor

// Run-time view of one block: where its slots and parameters live.
typedef struct BlockRun {
    const Block* blk;
    float* params;
    float* grads;
    float* running;
    float* stats;
    float* slot[BLOCK_MAX_SLOTS];
    float* grad[BLOCK_MAX_SLOTS];
    int written[BLOCK_MAX_SLOTS];
    int batch;
} BlockRun;

static void bind_slots(BlockRun* r, float* input, float* arena, int batch) {
    size_t off = 0;
    r->slot[0] = input;
    for (int s = 1; s < r->blk->slot_count; s++) {
        r->slot[s] = arena + off;
        off += slot_numel(r->blk, s, batch);
    }
}

static BlockRun block_run_at(Supernet* sn, int position, int block, float* input, int batch, float* arena) {
    BlockRun r;
    memset(&r, 0, sizeof r);
    r.blk = &sn->blocks[block];
    r.params = sn->params + sn->param_offset[block];
    r.grads = sn->grads + sn->param_offset[block];
    r.running = sn->running + sn->running_offset[block];
    r.stats = sn->stat_arena + sn->stat_offset[position];
    r.batch = batch;
    bind_slots(&r, input, arena, batch);
    return r;
}

static BlockRun block_run(Supernet* sn, int position, int block, float* input, int batch) {
    return block_run_at(sn, position, block, input, batch, sn->act_arena + sn->act_offset[position]);
}

static ConvShape node_conv_shape(const BlockRun* r, const Node* n) {
    SlotShape s = r->blk->slots[n->in];
    return (ConvShape){r->batch, s.h, s.w, s.c, r->blk->slots[n->out].c, n->kernel, n->stride, n->pad};
}

static int node_rows(const BlockRun* r, int slot) {
    return r->batch * r->blk->slots[slot].h * r->blk->slots[slot].w;
}

static void node_forward(Supernet* sn, BlockRun* r, const Node* n, ForwardMode mode, float momentum) {
    const Ops* ops = sn->ops;
    const OpContext* ctx = &sn->ctx;
    const Block* b = r->blk;
    float* in = r->slot[n->in];
    float* out = r->slot[n->out];
    float* w = n->weight >= 0 ? r->params + b->params[n->weight].offset : NULL;
    float* bias = n->bias >= 0 ? r->params + b->params[n->bias].offset : NULL;
    int c = b->slots[n->in].c, rows = node_rows(r, n->in);
    switch (n->kind) {
    case NODE_CONV: {
        ConvShape cs = node_conv_shape(r, n);
        ops->conv2d_forward(ctx, &cs, out, in, w, bias, sn->scratch);
        break;
    }
    case NODE_DWCONV: {
        ConvShape cs = node_conv_shape(r, n);
        ops->depthwise_conv2d_forward(ctx, &cs, out, in, w);
        break;
    }
    case NODE_LINEAR:
        ops->linear_forward(ctx, out, in, w, bias, rows, c, b->slots[n->out].c);
        break;
    case NODE_BN: {
        float* mean = r->running + n->running;
        if (mode == MODE_TRAIN)
            ops->batchnorm_act_forward_train(ctx, n->act, out, in, w, bias, r->stats + n->stats,
                                             r->stats + n->stats + c, momentum > 0 ? mean : NULL,
                                             momentum > 0 ? mean + c : NULL, rows, c, momentum, 1e-5f);
        else
            ops->batchnorm_act_forward_infer(ctx, n->act, out, in, w, bias, mean, mean + c, rows, c, 1e-5f);
        break;
    }
    case NODE_ACT: ops->activation_forward(ctx, n->act, out, in, (size_t)rows * c); break;
    case NODE_GAP: ops->global_avg_pool_forward(ctx, out, in, r->batch, rows / r->batch, c); break;
    case NODE_SCALE: ops->channel_scale_forward(ctx, out, in, r->slot[n->in2], r->batch, rows / r->batch, c); break;
    case NODE_ADD: ops->add(ctx, out, in, r->slot[n->in2], (size_t)rows * c); break;
    case NODE_CONCAT:
        ops->concat_channels(ctx, out, in, r->slot[n->in2], rows, c, b->slots[n->in2].c);
        break;
    case NODE_SPLIT:
        ops->split_channels(ctx, out, r->slot[n->out2], in, rows, b->slots[n->out].c,
                            b->slots[n->out2].c);
        break;
    case NODE_SHUFFLE: ops->channel_shuffle(ctx, out, in, rows, c, n->groups); break;
    }
}

float* supernet_block_forward(Supernet* sn, int position, int block, float* input, int batch, ForwardMode mode) {
    BlockRun r = block_run(sn, position, block, input, batch);
    for (int i = 0; i < r.blk->node_count; i++) node_forward(sn, &r, &r.blk->nodes[i], mode, 0.0f);
    return r.slot[r.blk->output];
}

void supernet_forward(Supernet* sn, const int* path, int batch, ForwardMode mode, float bn_momentum) {
    float* x = sn->images;
    int positions = supernet_positions(sn), region = 0;
    size_t packed = 0;
    for (int p = 0; p < positions; p++) {
        int block = supernet_block_at(sn, path, p);
        // Training packs the path's blocks one after another (act_offset[p]
        // is where the backward finds them), so a step touches the memory
        // this path needs, not the sum of every layer's largest operator
        // that allocate() reserved; each packed offset is at most allocate's,
        // so the arena bounds it.
        if (mode != MODE_EVAL) sn->act_offset[p] = packed, packed += block_activation_floats(&sn->blocks[block], batch);
        float* arena = sn->act_arena + (mode == MODE_EVAL ? sn->eval_offset[region] : sn->act_offset[p]);
        BlockRun r = block_run_at(sn, p, block, x, batch, arena);
        for (int i = 0; i < r.blk->node_count; i++) {
            double t0 = sn->profile ? omp_get_wtime() : 0;
            node_forward(sn, &r, &r.blk->nodes[i], mode, bn_momentum);
            if (sn->profile) sn->ops->synchronize(&sn->ctx), sn->node_seconds[0][r.blk->nodes[i].kind] += omp_get_wtime() - t0;
        }
        if (mode == MODE_TRAIN && bn_momentum > 0 && r.blk->running_count) sn->bn_batches[block]++;
        sn->run_blocks[p] = block;
        sn->outputs[p] = r.slot[r.blk->output];
        // The next block writes the other region than the one its input is
        // in; a skip leaves its input where it is, so the region stays.
        if (sn->outputs[p] != x) region ^= 1;
        x = sn->outputs[p];
    }
    size_t bytes = (size_t)batch * sn->space.classes * sizeof(float);
    sn->ops->copy(&sn->ctx, sn->logits, x, bytes);
    sn->last_batch = batch;
}

// Where the gradient for `slot` goes: its own buffer the first time, a tmp
// buffer (added afterwards) when another consumer already wrote it, or NULL
// when nobody needs it (the network input).
static float* grad_target(BlockRun* r, int slot, int tmp_index, Supernet* sn, int* accumulate) {
    *accumulate = 0;
    if (!r->grad[slot]) return NULL;
    if (!r->written[slot]) {
        r->written[slot] = 1;
        return r->grad[slot];
    }
    *accumulate = 1;
    return sn->tmp[tmp_index];
}

static void finish_target(Supernet* sn, BlockRun* r, int slot, int accumulate, int tmp_index) {
    if (!accumulate) return;
    size_t n = slot_numel(r->blk, slot, r->batch);
    sn->ops->add(&sn->ctx, r->grad[slot], r->grad[slot], sn->tmp[tmp_index], n);
}

static void node_backward(Supernet* sn, BlockRun* r, const Node* n) {
    const Ops* ops = sn->ops;
    const OpContext* ctx = &sn->ctx;
    const Block* b = r->blk;
    float* in = r->slot[n->in];
    float* g = r->grad[n->out];
    float* w = n->weight >= 0 ? r->params + b->params[n->weight].offset : NULL;
    float* dw = n->weight >= 0 ? r->grads + b->params[n->weight].offset : NULL;
    float* db = n->bias >= 0 ? r->grads + b->params[n->bias].offset : NULL;
    int c = b->slots[n->in].c, rows = node_rows(r, n->in), acc = 0, acc2 = 0;
    size_t count = (size_t)rows * c;
    float* din = NULL;
    float* din2 = NULL;
    if (n->kind == NODE_SPLIT) {
        din = grad_target(r, n->in, 0, sn, &acc);
        if (din) ops->concat_channels(ctx, din, g, r->grad[n->out2], rows, b->slots[n->out].c, b->slots[n->out2].c);
        finish_target(sn, r, n->in, acc, 0);
        return;
    }
    din = grad_target(r, n->in, 0, sn, &acc);
    switch (n->kind) {
    case NODE_CONV: {
        ConvShape cs = node_conv_shape(r, n);
        ops->conv2d_backward(ctx, &cs, din, dw, db, g, in, w, sn->scratch);
        break;
    }
    case NODE_DWCONV: {
        ConvShape cs = node_conv_shape(r, n);
        ops->depthwise_conv2d_backward(ctx, &cs, din, dw, g, in, w, sn->scratch);
        break;
    }
    case NODE_LINEAR: ops->linear_backward(ctx, din, dw, db, g, in, w, rows, c, b->slots[n->out].c); break;
    case NODE_BN: {
        const float* beta = n->bias >= 0 ? r->params + b->params[n->bias].offset : NULL;
        ops->batchnorm_act_backward(ctx, n->act, din, dw, db, g, in, w, beta, r->stats + n->stats,
                                    r->stats + n->stats + c, rows, c, sn->scratch);
        break;
    }
    case NODE_ACT:
        if (din) ops->activation_backward(ctx, n->act, din, g, in, count);
        break;
    case NODE_GAP:
        if (din) ops->global_avg_pool_backward(ctx, din, g, r->batch, rows / r->batch, c);
        break;
    case NODE_SCALE:
        din2 = grad_target(r, n->in2, 1, sn, &acc2);
        ops->channel_scale_backward(ctx, din, din2, g, in, r->slot[n->in2], r->batch, rows / r->batch, c);
        break;
    case NODE_ADD:
        din2 = grad_target(r, n->in2, 1, sn, &acc2);
        if (din) ops->copy(ctx, din, g, count * sizeof(float));
        if (din2) ops->copy(ctx, din2, g, count * sizeof(float));
        break;
    case NODE_CONCAT:
        din2 = grad_target(r, n->in2, 1, sn, &acc2);
        ops->split_channels(ctx, din, din2, g, rows, c, b->slots[n->in2].c);
        break;
    case NODE_SHUFFLE:
        if (din) ops->channel_shuffle(ctx, din, g, rows, c, c / n->groups);
        break;
    case NODE_SPLIT: break;
    }
    finish_target(sn, r, n->in, acc, 0);
    if (n->in2 >= 0) finish_target(sn, r, n->in2, acc2, 1);
}

void supernet_backward(Supernet* sn) {
    sn->grads_momentum_zero = 0;
    int positions = supernet_positions(sn), batch = sn->last_batch;
    float* gout = sn->dlogits;
    for (int p = positions - 1; p >= 0; p--) {
        int block = sn->run_blocks[p];
        float* input = p > 0 ? sn->outputs[p - 1] : sn->images;
        BlockRun r = block_run(sn, p, block, input, batch);
        const Block* b = r.blk;
        if (b->output == 0) continue;  // skip: the gradient passes through unchanged
        float* gin = p == 0 ? NULL : (gout == sn->boundary[0] ? sn->boundary[1] : sn->boundary[0]);
        size_t off = 0;
        for (int s = 1; s < b->slot_count; s++) {
            r.grad[s] = sn->grad_arena + off;
            off += slot_numel(b, s, batch);
        }
        r.grad[0] = gin;
        r.grad[b->output] = gout;
        r.written[b->output] = 1;
        for (int i = b->node_count - 1; i >= 0; i--) {
            double t0 = sn->profile ? omp_get_wtime() : 0;
            node_backward(sn, &r, &b->nodes[i]);
            if (sn->profile) sn->ops->synchronize(&sn->ctx), sn->node_seconds[1][b->nodes[i].kind] += omp_get_wtime() - t0;
        }
        gout = gin;
    }
}

// ---------------------------------------------------------------- updates

void supernet_zero_path_grads(Supernet* sn, const int* path) {
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        if (sn->blocks[b].param_floats)
            sn->ops->fill_zero(&sn->ctx, sn->grads + sn->param_offset[b], sn->blocks[b].param_floats * sizeof(float));
    }
}

void supernet_sgd_path(Supernet* sn, const int* path, const SgdConfig* cfg) {
    sn->grads_momentum_zero = 0;
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        const Block* blk = &sn->blocks[b];
        for (int i = 0; i < blk->param_count; i++) {
            size_t off = sn->param_offset[b] + blk->params[i].offset;
            sn->ops->sgd_update(&sn->ctx, sn->params + off, sn->momentum + off, sn->grads + off,
                                blk->params[i].numel, cfg, blk->params[i].decay);
        }
    }
}

int supernet_reset_path_bn(Supernet* sn, const int* path, HwErr* err) {
    size_t most = 0;
    for (int b = 0; b < sn->n_blocks; b++)
        if (sn->blocks[b].running_floats > most) most = sn->blocks[b].running_floats;
    float* host = malloc(most * sizeof(float) + sizeof(float));
    if (!host) return hw_runtime(err, NULL, 0, "out of memory for the BatchNorm statistics");
    for (int p = 0; p < supernet_positions(sn); p++) {
        int b = supernet_block_at(sn, path, p);
        const Block* blk = &sn->blocks[b];
        fresh_running_stats(blk, host);
        sn->ops->upload(&sn->ctx, sn->running + sn->running_offset[b], host, blk->running_floats * sizeof(float));
        sn->bn_batches[b] = 0;
    }
    free(host);
    return 0;
}
