// Conv weights in ONNX layout with BN folded (see conv_weights.h).
#include "deploy/conv_weights.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// hwnas layouts (block.h): dense OHWI, depthwise [k][k][C], 1x1 [O][I].
static void to_oihw(const ParamDesc* p, const float* src, float* dst, const int64_t* dims) {
    int64_t o_n = dims[0], i_n = dims[1], k = dims[2];
    for (int64_t o = 0; o < o_n; o++)
        for (int64_t i = 0; i < i_n; i++)
            for (int64_t y = 0; y < k; y++)
                for (int64_t x = 0; x < k; x++) {
                    size_t at = (size_t)(((o * i_n + i) * k + y) * k + x), from;
                    if (p->layout == LAYOUT_CONV_OHWI) from = (size_t)(((o * k + y) * k + x) * i_n + i);
                    else if (p->layout == LAYOUT_DW_KKC) from = (size_t)((y * k + x) * o_n + o);
                    else from = (size_t)(o * i_n + i);
                    dst[at] = src[from];
                }
}

static void fold_bn(ConvWeights* w, const Block* b, const Node* bn, const float* params, const float* running,
                    float eps) {
    int out_c = (int)w->dims[0];
    size_t per_out = (size_t)(w->dims[1] * w->dims[2] * w->dims[3]);
    const float* gamma = params + b->params[bn->weight].offset;
    const float* beta = params + b->params[bn->bias].offset;
    const float* mean = running + bn->running;
    const float* var = mean + out_c;
    for (int o = 0; o < out_c; o++) {
        double scale = (double)gamma[o] / sqrt((double)var[o] + (double)eps);
        for (size_t j = 0; j < per_out; j++) w->weight[o * per_out + j] = (float)(w->weight[o * per_out + j] * scale);
        w->bias[o] = (float)(beta[o] + ((double)w->bias[o] - mean[o]) * scale);
    }
}

int conv_weights_make(ConvWeights* w, const Block* b, const Node* conv, const Node* bn, const float* params,
                      const float* running, float eps) {
    const ParamDesc* p = &b->params[conv->weight];
    memset(w, 0, sizeof *w);
    int out_c = b->slots[conv->out].c, in_c = b->slots[conv->in].c;
    int k = conv->kind == NODE_LINEAR ? 1 : conv->kernel, dw = conv->kind == NODE_DWCONV;
    w->dims[0] = out_c, w->dims[1] = dw ? 1 : in_c, w->dims[2] = k, w->dims[3] = k;
    w->group = dw ? in_c : 1;
    w->weight = malloc(p->numel * sizeof(float));
    w->bias = calloc((size_t)out_c, sizeof(float));
    if (!w->weight || !w->bias) return conv_weights_free(w), -1;
    to_oihw(p, params + p->offset, w->weight, w->dims);
    if (conv->bias >= 0) memcpy(w->bias, params + b->params[conv->bias].offset, (size_t)out_c * sizeof(float));
    if (bn) fold_bn(w, b, bn, params, running, eps);
    return 0;
}

void conv_weights_free(ConvWeights* w) {
    free(w->weight);
    free(w->bias);
    w->weight = w->bias = NULL;
}
