#include "supernet/arch.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/yaml_tree.h"
#include "supernet/run_dir.h"

void arch_init(Arch* a, const Space* space) {
    memset(a, 0, sizeof *a);
    snprintf(a->space, sizeof a->space, "%s", space->name);
    a->n_layers = space->n_layers;
    a->latency_ms = a->top1 = a->flops = a->params = a->peak_kb = -1;
}

static int read_optional(const YamlDoc* d, const char* key, double* out, HwErr* err) {
    const YamlNode* n = yaml_get(d->root, key);
    return n ? yaml_float(d, n, key, 0, 1e30, out, err) : 0;
}

// A plain file name: no '/', not starting with '.'.
static int read_space_file(const YamlDoc* d, const YamlNode* n, const char* path, char* out, size_t cap, HwErr* err) {
    if (yaml_string(d, n, "space_file", out, cap, err) < 0) return -1;
    if (!out[0] || out[0] == '.' || strchr(out, '/'))
        return hw_bad_input(err, path, n->line,
                            "space_file: found '%s', expected a file name beside the architecture file (no '/', not "
                            "starting with '.')", out);
    return 0;
}

int arch_space_file(const char* arch_path, char* out, size_t cap, HwErr* err) {
    // An absent file is reported by arch_load, after the checks commands make
    // first (the data's shape before any input file is read).
    if (access(arch_path, F_OK) != 0) return 0;
    YamlDoc* d = yaml_load_file(arch_path, err);
    if (!d) return -1;
    const YamlNode* sf = d->root->kind == YAML_MAPPING ? yaml_get(d->root, "space_file") : NULL;
    char name[64];
    int rc = sf ? read_space_file(d, sf, arch_path, name, sizeof name, err) : 0;
    yaml_free(d);
    if (rc < 0 || !sf) return rc;
    return run_dir_beside(out, cap, arch_path, name, err) < 0 ? -1 : 1;
}

int arch_load(Arch* a, const char* path, const Space* space, HwErr* err) {
    static const char* const keys[] = {"space",  "space_file", "ops",          "latency_ms", "top1",
                                       "flops", "params",     "predicted_ms", "peak_kb", NULL};
    arch_init(a, space);
    YamlDoc* d = yaml_load_file(path, err);
    if (!d) return -1;
    int rc = -1;
    const YamlNode* root = d->root;
    if (root->kind != YAML_MAPPING) {
        hw_bad_input(err, path, root->line, "expected an architecture mapping {space, ops}");
        goto done;
    }
    if (yaml_check_keys(d, root, "architecture", keys, err) < 0) goto done;
    const YamlNode* sp = yaml_get(root, "space");
    if (sp) {
        char name[64];
        if (yaml_string(d, sp, "space", name, sizeof name, err) < 0) goto done;
        if (strcmp(name, space->name) != 0) {
            hw_bad_input(err, path, sp->line, "space: found '%s', expected '%s' (the space in use)", name, space->name);
            goto done;
        }
    }
    const YamlNode* ops = yaml_get(root, "ops");
    if (!ops || ops->kind != YAML_SEQUENCE || ops->count != space->n_layers) {
        hw_bad_input(err, path, ops ? ops->line : root->line, "ops: expected a list of %d operators (one per layer of %s)",
                     space->n_layers, space->name);
        goto done;
    }
    for (int l = 0; l < ops->count; l++) {
        char name[OP_NAME_MAX];
        if (yaml_string(d, ops->items[l], "ops", name, sizeof name, err) < 0) goto done;
        a->ops[l] = space_op_index(space, l, name);
        if (a->ops[l] < 0) {
            hw_bad_input(err, path, ops->items[l]->line, "ops[%d]: '%s' is not a candidate of layer %d of %s", l, name, l,
                         space->name);
            goto done;
        }
    }
    const YamlNode* sf = yaml_get(root, "space_file");
    if (sf && read_space_file(d, sf, path, a->space_file, sizeof a->space_file, err) < 0) goto done;
    if (read_optional(d, "latency_ms", &a->latency_ms, err) < 0 || read_optional(d, "top1", &a->top1, err) < 0 ||
        read_optional(d, "flops", &a->flops, err) < 0 || read_optional(d, "params", &a->params, err) < 0 ||
        read_optional(d, "peak_kb", &a->peak_kb, err) < 0)
        goto done;
    rc = 0;
done:
    yaml_free(d);
    return rc;
}

int arch_write(const Arch* a, const Space* space, const char* path, HwErr* err) {
    char tmp[SAFE_PATH_MAX + 8];
    FILE* fp = yaml_file_begin(path, tmp, sizeof tmp, err);
    if (!fp) return -1;
    fprintf(fp, "space: ");
    yaml_write_string(fp, space->name);
    if (a->space_file[0]) {
        fprintf(fp, "\nspace_file: ");
        yaml_write_string(fp, a->space_file);
    }
    fprintf(fp, "\nops: [");
    for (int l = 0; l < space->n_layers; l++) fprintf(fp, "%s%s", l ? ", " : "", space->layers[l].names[a->ops[l]]);
    fprintf(fp, "]\n");
    const char* names[] = {"latency_ms", "top1", "flops", "params", "peak_kb"};
    double values[] = {a->latency_ms, a->top1, a->flops, a->params, a->peak_kb};
    for (int i = 0; i < 5; i++) {
        if (values[i] < 0) continue;
        fprintf(fp, "%s: ", names[i]);
        yaml_write_double(fp, values[i]);
        fprintf(fp, "\n");
    }
    return yaml_file_commit(fp, tmp, path, err);
}
