#include "supernet/operator.h"

#include <stdio.h>
#include <string.h>

#include "common/limits.h"

const char* const op_pool_names[OP_POOL_SIZE] = {
    "mb_k3_e3",    "mb_k3_e6",    "mb_k5_e3",    "mb_k5_e6",    "mb_k7_e3",    "mb_k7_e6",
    "mb_k3_e3_se", "mb_k3_e6_se", "mb_k5_e3_se", "mb_k5_e6_se", "mb_k7_e3_se", "mb_k7_e6_se",
    "mb_k3_e3_hs", "mb_k3_e6_hs", "mb_k5_e3_hs", "mb_k5_e6_hs", "mb_k7_e3_hs", "mb_k7_e6_hs",
    "fused_k3_e3", "fused_k3_e6", "sep_k3",      "sep_k5",      "sep_k7",      "shuffle_k3",
    "shuffle_k5",  "shuffle_k7",  "shuffle_x",   "shuffle_k3_se", "shuffle_k5_se", "shuffle_k7_se",
    "shuffle_x_se", "skip",
};

// "", "_se", and for mb also "_hs" and "_se_hs" (se first, each at most once).
static int parse_suffix(const char* rest, OpSpec* s, int allow_hs) {
    if (!strncmp(rest, "_se", 3)) {
        s->se = 1;
        rest += 3;
    }
    if (allow_hs && !strncmp(rest, "_hs", 3)) {
        s->hswish = 1;
        rest += 3;
    }
    return *rest ? -1 : 0;
}

_Static_assert(LIMIT_MB_EXPAND == 8, "OP_GRAMMAR (operator.h) spells the limit out");

static int valid_kernel(int k) { return k == 3 || k == 5 || k == 7; }

static int parse_loose(const char* name, OpSpec* s) {
    memset(s, 0, sizeof *s);
    int k = 0, e = 0, n = 0;
    if (!strcmp(name, "skip")) {
        s->family = OPF_SKIP;
        return 0;
    }
    if (sscanf(name, "mb_k%d_e%d%n", &k, &e, &n) == 2 && valid_kernel(k) && e >= 1 &&
        e <= LIMIT_MB_EXPAND) {
        *s = (OpSpec){OPF_MBCONV, k, e, 0, 0};
        return parse_suffix(name + n, s, 1);
    }
    if (sscanf(name, "fused_k3_e%d%n", &e, &n) == 1 && (e == 3 || e == 6) && name[n] == 0) {
        *s = (OpSpec){OPF_FUSED, 3, e, 0, 0};
        return 0;
    }
    if (sscanf(name, "sep_k%d%n", &k, &n) == 1 && valid_kernel(k) && name[n] == 0) {
        *s = (OpSpec){OPF_SEP, k, 1, 0, 0};
        return 0;
    }
    if (!strncmp(name, "shuffle_x", 9)) {
        *s = (OpSpec){OPF_SHUFFLE_X, 3, 1, 0, 0};
        return parse_suffix(name + 9, s, 0);
    }
    if (sscanf(name, "shuffle_k%d%n", &k, &n) == 1 && valid_kernel(k)) {
        *s = (OpSpec){OPF_SHUFFLE, k, 1, 0, 0};
        return parse_suffix(name + n, s, 0);
    }
    return -1;
}

int op_parse(const char* name, OpSpec* s) {
    // Only canonical spellings: "mb_k03_e3" or "mb_k+3_e3" would scan too.
    char canonical[OP_NAME_MAX];
    if (strlen(name) >= OP_NAME_MAX || parse_loose(name, s) < 0) return -1;
    op_name(s, canonical, sizeof canonical);
    return strcmp(canonical, name) == 0 ? 0 : -1;
}

void op_name(const OpSpec* s, char* out, size_t cap) {
    const char* suffix = s->se ? "_se" : "";
    switch (s->family) {
    case OPF_MBCONV:
        snprintf(out, cap, "mb_k%d_e%d%s%s", s->kernel, s->expand, suffix, s->hswish ? "_hs" : "");
        break;
    case OPF_FUSED: snprintf(out, cap, "fused_k3_e%d", s->expand); break;
    case OPF_SEP: snprintf(out, cap, "sep_k%d", s->kernel); break;
    case OPF_SHUFFLE: snprintf(out, cap, "shuffle_k%d%s", s->kernel, suffix); break;
    case OPF_SHUFFLE_X: snprintf(out, cap, "shuffle_x%s", suffix); break;
    case OPF_SKIP: snprintf(out, cap, "skip"); break;
    }
}

int op_valid(const OpSpec* s, int in_c, int out_c, int stride, const char** why) {
    const char* reason = NULL;
    if (in_c <= 0 || out_c <= 0)
        reason = "channel counts must be positive";
    else if (stride != 1 && stride != 2)
        reason = "stride must be 1 or 2";
    else if (s->family == OPF_SKIP && (in_c != out_c || stride != 1))
        reason = "skip needs equal input and output shapes (same channels, stride 1)";
    else if ((s->family == OPF_SHUFFLE || s->family == OPF_SHUFFLE_X)) {
        if (stride == 1 && in_c == out_c) {
            if (in_c % 2) reason = "a stride-1 shuffle block needs an even channel count";
        } else if (out_c <= in_c) {
            reason = "a shape-changing shuffle block needs more output than input channels";
        }
    }
    if (why) *why = reason;
    return reason == NULL;
}
