// Reading, checking and writing search-space files (format in space.h).
#include "supernet/space.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/yaml_tree.h"

static const char* const kActNames[] = {"none", "relu", "relu6", "hswish", "sigmoid", "hsigmoid"};

const char* activation_name(Activation a) {
    return (a >= ACT_NONE && a <= ACT_HSIGMOID) ? kActNames[a] : "none";
}

int activation_parse(const char* name, Activation* a) {
    for (int i = 0; i <= ACT_HSIGMOID; i++)
        if (!strcmp(name, kActNames[i])) {
            *a = (Activation)i;
            return 0;
        }
    return -1;
}

static int read_act(const YamlDoc* d, const YamlNode* n, const char* what, Activation* a, HwErr* err) {
    char name[16];
    if (yaml_string(d, n, what, name, sizeof name, err) < 0) return -1;
    if (activation_parse(name, a) < 0)
        return hw_bad_input(err, d->path, n->line, "%s: found '%s', expected one of none, relu, relu6, hswish",
                            what, name);
    return 0;
}

static int read_int(const YamlDoc* d, const YamlNode* map, const char* key, const char* what, long lo, long hi,
                    long dflt, int* out, HwErr* err) {
    const YamlNode* n = yaml_get(map, key);
    long v = dflt;
    if (n && yaml_int(d, n, what, lo, hi, &v, err) < 0) return -1;
    if (!n && dflt < lo) return hw_bad_input(err, d->path, map->line, "%s: missing", what);
    *out = (int)v;
    return 0;
}

static int read_stem(Space* s, const YamlDoc* d, const YamlNode* n, HwErr* err) {
    static const char* const keys[] = {"out", "kernel", "stride", "act", "first", NULL};
    if (!n || n->kind != YAML_MAPPING)
        return hw_bad_input(err, d->path, n ? n->line : 0, "stem: expected a mapping {out, kernel, stride, act}");
    if (yaml_check_keys(d, n, "stem", keys, err) < 0 || read_int(d, n, "out", "stem.out", 1, 4096, -1, &s->stem.out_c, err) < 0 ||
        read_int(d, n, "kernel", "stem.kernel", 1, 11, 3, &s->stem.kernel, err) < 0 ||
        read_int(d, n, "stride", "stem.stride", 1, 2, 1, &s->stem.stride, err) < 0)
        return -1;
    s->stem.act = ACT_RELU;
    if (yaml_get(n, "act") && read_act(d, yaml_get(n, "act"), "stem.act", &s->stem.act, err) < 0) return -1;
    const YamlNode* first = yaml_get(n, "first");
    if (first) {
        static const char* const fkeys[] = {"op", "out", NULL};
        char op[OP_NAME_MAX];
        if (first->kind != YAML_MAPPING || yaml_check_keys(d, first, "stem.first", fkeys, err) < 0 ||
            yaml_string(d, yaml_get(first, "op"), "stem.first.op", op, sizeof op, err) < 0 ||
            read_int(d, first, "out", "stem.first.out", 1, 4096, -1, &s->stem.first_out_c, err) < 0)
            return err->msg[0] ? -1 : hw_bad_input(err, d->path, first->line, "stem.first: expected {op, out}");
        if (op_parse(op, &s->stem.first) < 0)
            return hw_bad_input(err, d->path, first->line, "stem.first.op: unknown operator '%s' (expected %s)", op,
                                OP_GRAMMAR);
        s->stem.has_first = 1;
    }
    return 0;
}

static int read_ops(Space* s, SpaceLayer* L, const YamlDoc* d, const YamlNode* n, int index, HwErr* err) {
    char what[48];
    snprintf(what, sizeof what, "layers[%d].ops", index);
    if (n && n->kind == YAML_SCALAR && !strcmp(n->scalar, "all")) {
        // The whole pool, minus operators that cannot map this layer's shapes.
        for (int i = 0; i < OP_POOL_SIZE; i++) {
            OpSpec op;
            op_parse(op_pool_names[i], &op);
            if (!op_valid(&op, L->in_c, L->out_c, L->stride, NULL)) continue;
            L->ops[L->n_ops] = op;
            snprintf(L->names[L->n_ops++], OP_NAME_MAX, "%s", op_pool_names[i]);
        }
        return 0;
    }
    _Static_assert(OP_POOL_SIZE == LIMIT_LAYER_OPS, "a layer's operator arrays are sized by the pool");
    if (!n || n->kind != YAML_SEQUENCE || n->count == 0 || n->count > LIMIT_LAYER_OPS)
        return hw_bad_input(err, d->path, n ? n->line : 0, "%s: expected `all` or a list of 1..%d operators", what,
                            LIMIT_LAYER_OPS);
    for (int i = 0; i < n->count; i++) {
        char name[OP_NAME_MAX];
        const YamlNode* item = n->items[i];
        const char* why = NULL;
        if (yaml_string(d, item, what, name, sizeof name, err) < 0) return -1;
        if (op_parse(name, &L->ops[i]) < 0)
            return hw_bad_input(err, d->path, item->line, "%s: unknown operator '%s' (expected %s)", what, name,
                                OP_GRAMMAR);
        if (!op_valid(&L->ops[i], L->in_c, L->out_c, L->stride, &why))
            return hw_bad_input(err, d->path, item->line, "%s: '%s' cannot map %dx%dx%d to %d channels with stride %d: %s",
                                what, name, L->in_h, L->in_w, L->in_c, L->out_c, L->stride, why);
        for (int j = 0; j < i; j++)
            if (!strcmp(L->names[j], name))
                return hw_bad_input(err, d->path, item->line, "%s: operator '%s' listed twice", what, name);
        snprintf(L->names[i], OP_NAME_MAX, "%s", name);
        L->n_ops = i + 1;
    }
    (void)s;
    return 0;
}

// Shape after the stem (including its optional first block).
static void stem_output(const Space* s, int* h, int* w, int* c) {
    *h = conv_out_size(s->in_h, s->stem.kernel, s->stem.stride, s->stem.kernel / 2);
    *w = conv_out_size(s->in_w, s->stem.kernel, s->stem.stride, s->stem.kernel / 2);
    *c = s->stem.has_first ? s->stem.first_out_c : s->stem.out_c;
}

static int read_layers(Space* s, const YamlDoc* d, const YamlNode* n, HwErr* err) {
    static const char* const keys[] = {"out", "stride", "ops", "ranking", NULL};
    if (!n || n->kind != YAML_SEQUENCE || n->count == 0 || n->count > SPACE_MAX_LAYERS)
        return hw_bad_input(err, d->path, n ? n->line : 0, "layers: expected a list of 1..%d layers", SPACE_MAX_LAYERS);
    int h, w, c;
    stem_output(s, &h, &w, &c);
    for (int i = 0; i < n->count; i++) {
        const YamlNode* item = n->items[i];
        SpaceLayer* L = &s->layers[i];
        char what[32];
        snprintf(what, sizeof what, "layers[%d]", i);
        if (item->kind != YAML_MAPPING)
            return hw_bad_input(err, d->path, item->line, "%s: expected a mapping {out, stride, ops}", what);
        if (yaml_check_keys(d, item, what, keys, err) < 0) return -1;
        snprintf(what, sizeof what, "layers[%d].out", i);
        if (read_int(d, item, "out", what, 1, 8192, -1, &L->out_c, err) < 0) return -1;
        snprintf(what, sizeof what, "layers[%d].stride", i);
        if (read_int(d, item, "stride", what, 1, 2, 1, &L->stride, err) < 0) return -1;
        L->in_h = h, L->in_w = w, L->in_c = c;
        if (read_ops(s, L, d, yaml_get(item, "ops"), i, err) < 0) return -1;
        if (L->n_ops == 0)
            return hw_bad_input(err, d->path, item->line, "layers[%d]: no operator of the pool fits this layer", i);
        h = conv_out_size(h, 3, L->stride, 1), w = conv_out_size(w, 3, L->stride, 1), c = L->out_c;
    }
    s->n_layers = n->count;
    return 0;
}

int space_load(Space* s, const char* path, HwErr* err) {
    static const char* const keys[] = {"name", "input", "classes", "block_act", "stem", "layers", "head", NULL};
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", path);
    YamlDoc* d = yaml_load_file(path, err);
    if (!d) return -1;
    const YamlNode* root = d->root;
    int rc = -1;
    if (root->kind != YAML_MAPPING) {
        hw_bad_input(err, path, root->line, "expected a search space mapping (name, input, stem, layers, head)");
        goto done;
    }
    if (yaml_check_keys(d, root, "space", keys, err) < 0) goto done;
    const YamlNode* name = yaml_get(root, "name");
    if (name && yaml_string(d, name, "name", s->name, sizeof s->name, err) < 0) goto done;
    const YamlNode* input = yaml_get(root, "input");
    long dims[3];
    if (!input || input->kind != YAML_SEQUENCE || input->count != 3) {
        hw_bad_input(err, path, input ? input->line : root->line, "input: expected [H, W, C]");
        goto done;
    }
    for (int i = 0; i < 3; i++)
        if (yaml_int(d, input->items[i], "input", 1, i < 2 ? 4096 : 64, &dims[i], err) < 0) goto done;
    s->in_h = (int)dims[0], s->in_w = (int)dims[1], s->in_c = (int)dims[2];
    if (read_int(d, root, "classes", "classes", 2, 100000, -1, &s->classes, err) < 0) goto done;
    s->block_act = ACT_RELU6;
    if (yaml_get(root, "block_act") && read_act(d, yaml_get(root, "block_act"), "block_act", &s->block_act, err) < 0)
        goto done;
    if (read_stem(s, d, yaml_get(root, "stem"), err) < 0) goto done;
    if (read_layers(s, d, yaml_get(root, "layers"), err) < 0) goto done;
    const YamlNode* head = yaml_get(root, "head");
    static const char* const head_keys[] = {"features", "act", NULL};
    s->head.act = ACT_RELU;
    if (head) {
        if (head->kind != YAML_MAPPING || yaml_check_keys(d, head, "head", head_keys, err) < 0 ||
            read_int(d, head, "features", "head.features", 0, 65536, 0, &s->head.features, err) < 0) {
            if (!err->msg[0]) hw_bad_input(err, path, head->line, "head: expected {features, act}");
            goto done;
        }
        if (yaml_get(head, "act") && read_act(d, yaml_get(head, "act"), "head.act", &s->head.act, err) < 0) goto done;
    }
    if (!s->name[0]) snprintf(s->name, sizeof s->name, "unnamed");
    rc = 0;
done:
    yaml_free(d);
    return rc;
}

int space_op_index(const Space* s, int layer, const char* name) {
    if (layer < 0 || layer >= s->n_layers) return -1;
    for (int i = 0; i < s->layers[layer].n_ops; i++)
        if (!strcmp(s->layers[layer].names[i], name)) return i;
    return -1;
}

double space_log10_size(const Space* s) {
    double total = 0;
    for (int l = 0; l < s->n_layers; l++) total += log10((double)s->layers[l].n_ops);
    return total;
}

int space_write_with(const Space* s, const char* path, const char* comment,
                     void (*layer_extra)(FILE* fp, int layer, void* user), void* user, HwErr* err) {
    char tmp[SAFE_PATH_MAX + 8];
    FILE* fp = yaml_file_begin(path, tmp, sizeof tmp, err);
    if (!fp) return -1;
    if (comment) fputs(comment, fp);
    fprintf(fp, "name: ");
    yaml_write_string(fp, s->name);
    fprintf(fp, "\ninput: [%d, %d, %d]\nclasses: %d\nblock_act: %s\n", s->in_h, s->in_w, s->in_c, s->classes,
            activation_name(s->block_act));
    fprintf(fp, "stem: {out: %d, kernel: %d, stride: %d, act: %s", s->stem.out_c, s->stem.kernel, s->stem.stride,
            activation_name(s->stem.act));
    if (s->stem.has_first) {
        char op[OP_NAME_MAX];
        op_name(&s->stem.first, op, sizeof op);
        fprintf(fp, ", first: {op: %s, out: %d}", op, s->stem.first_out_c);
    }
    fprintf(fp, "}\nlayers:\n");
    for (int l = 0; l < s->n_layers; l++) {
        const SpaceLayer* L = &s->layers[l];
        fprintf(fp, "  - out: %d\n    stride: %d\n    ops: [", L->out_c, L->stride);
        for (int i = 0; i < L->n_ops; i++) fprintf(fp, "%s%s", i ? ", " : "", L->names[i]);
        fprintf(fp, "]\n");
        if (layer_extra) layer_extra(fp, l, user);
    }
    fprintf(fp, "head: {features: %d, act: %s}\n", s->head.features, activation_name(s->head.act));
    return yaml_file_commit(fp, tmp, path, err);
}

void space_restrict(const Space* s, const int* ops, Space* out) {
    *out = *s;
    for (int l = 0; l < s->n_layers; l++) {
        SpaceLayer* L = &out->layers[l];
        L->ops[0] = s->layers[l].ops[ops[l]];
        memcpy(L->names[0], s->layers[l].names[ops[l]], OP_NAME_MAX);
        L->n_ops = 1;
    }
}
