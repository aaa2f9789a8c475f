// Candidate operators of a searchable layer: names, validity, cost.
//
// Operator names (op_parse accepts exactly these spellings, nothing else):
//   mb_k{3,5,7}_e{1..8}[_se][_hs] MobileNetV2/V3 inverted residual: 1x1 expand
//                                (none for e1), BN, act, kxk depthwise, BN, act,
//                                [SE], 1x1 project, BN, residual when shapes
//                                match. act is the space's block_act, h-swish
//                                with _hs. _se comes before _hs when both are
//                                given (mb_k5_e4_se_hs); e is bounded by
//                                LIMIT_MB_EXPAND (common/limits.h).
//   fused_k3_e{3,6}              fused MBConv: 3x3 dense expand, BN, ReLU6,
//                                1x1 project, BN, residual when shapes match.
//   sep_k{3,5,7}                 depthwise separable: kxk dw, BN, ReLU6, 1x1, BN,
//                                residual when shapes match.
//   shuffle_k{3,5,7}[_se]        ShuffleNetV2 block as in SPOS (channel split,
//   shuffle_x[_se]               main branch, concat); _x is the Xception-style
//                                main branch (three 3x3 dw). SE on the main branch.
//   skip                         identity; only where input and output match.
// The default pool (`ops: all`, 32 names, HURRICANE's) is op_pool_names: mb
// with e{3,6} and at most one of _se/_hs, plus every other family. Spaces may
// list any valid name (OFA-MobileNetV3 uses e4 and _se_hs, ProxylessNAS's
// first block mb_k3_e1). SE: GAP, 1x1 (C -> max(8, C/4)) + bias, ReLU,
// 1x1 (-> C) + bias, h-sigmoid, scale.
#ifndef HWNAS_OPERATOR_H
#define HWNAS_OPERATOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum OpFamily {
    OPF_MBCONV = 0,
    OPF_FUSED,
    OPF_SEP,
    OPF_SHUFFLE,
    OPF_SHUFFLE_X,
    OPF_SKIP,
} OpFamily;

typedef struct OpSpec {
    OpFamily family;
    int kernel;   // 3/5/7 (3 for shuffle_x)
    int expand;   // mb/fused expansion ratio
    int se;       // squeeze-excitation
    int hswish;   // h-swish activations (mb only)
} OpSpec;

#define OP_POOL_SIZE 32
#define OP_NAME_MAX 24
// The grammar in one line, for error messages about unknown names.
#define OP_GRAMMAR                                                                            \
    "mb_k{3,5,7}_e{1..8}[_se][_hs], fused_k3_e{3,6}, sep_k{3,5,7}, shuffle_k{3,5,7}[_se], " \
    "shuffle_x[_se] or skip"

// The 32 pool names in a fixed canonical order.
extern const char* const op_pool_names[OP_POOL_SIZE];

// Parses a name into spec; returns 0, or -1 for an unknown name (one not in
// the grammar above, or not spelled canonically).
int op_parse(const char* name, OpSpec* spec);
void op_name(const OpSpec* spec, char* out, size_t cap);

// Whether the operator can map (in_c, stride) to out_c; if not and why is not
// NULL, writes a short reason ("skip needs equal shapes and stride 1").
int op_valid(const OpSpec* spec, int in_c, int out_c, int stride, const char** why);

// Width of the SE bottleneck for c channels.
static inline int se_hidden(int c) { return c / 4 > 8 ? c / 4 : 8; }


#ifdef __cplusplus
}
#endif
#endif
