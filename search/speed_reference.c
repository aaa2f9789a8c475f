#include "search/speed_reference.h"

#include <stdio.h>
#include <string.h>

int speed_reference_set(Lut* lut, const Space* s, const int* paths, int n, double total_ms, HwErr* err) {
    if (n < 1 || n > SPEED_REF_PATHS) return hw_runtime(err, NULL, 0, "speed reference: %d networks, expected 1..%d", n, SPEED_REF_PATHS);
    char* out = lut->reference_ops;
    size_t cap = sizeof lut->reference_ops, len = 0;
    for (int i = 0; i < n; i++) {
        for (int l = 0; l < s->n_layers; l++) {
            const char* sep = l ? " " : i ? "; " : "";
            int w = snprintf(out + len, cap - len, "%s%s", sep, s->layers[l].names[paths[(size_t)i * s->n_layers + l]]);
            if (w < 0 || (size_t)w >= cap - len) {
                out[0] = 0;
                return hw_runtime(err, NULL, 0, "speed reference: the names do not fit %d characters", LUT_REF_OPS_MAX - 1);
            }
            len += (size_t)w;
        }
    }
    lut->reference_ms = total_ms;
    return 0;
}

static int op_index(const SpaceLayer* layer, const char* name) {
    for (int o = 0; o < layer->n_ops; o++)
        if (!strcmp(layer->names[o], name)) return o;
    return -1;
}

// One network's names (a ';'-free, NUL-terminated piece of reference_ops).
static int parse_network(const Lut* lut, const Space* s, char* text, int k, int* path, HwErr* err) {
    int l = 0;
    char* save = NULL;
    char* name = strtok_r(text, " \t", &save);
    for (; name && l < s->n_layers; name = strtok_r(NULL, " \t", &save), l++) {
        if ((path[l] = op_index(&s->layers[l], name)) < 0)
            return hw_bad_input(err, lut->path, 0, "reference_ops network %d, layer %d: found '%s', expected an "
                                "operator of that layer of space %s", k + 1, l + 1, name, s->name);
    }
    if (l != s->n_layers || name)
        return hw_bad_input(err, lut->path, 0, "reference_ops network %d: found %s names than the %d layers of space "
                            "%s, expected one per layer", k + 1, l < s->n_layers ? "fewer" : "more", s->n_layers, s->name);
    return 0;
}

int speed_reference_paths(const Lut* lut, const Space* s, int* paths, HwErr* err) {
    if (!lut->reference_ops[0]) return 0;
    char text[LUT_REF_OPS_MAX];
    snprintf(text, sizeof text, "%s", lut->reference_ops);
    int n = 0;
    char* save = NULL;
    for (char* net = strtok_r(text, ";", &save); net; net = strtok_r(NULL, ";", &save), n++) {
        if (n == SPEED_REF_PATHS)
            return hw_bad_input(err, lut->path, 0, "reference_ops: found more than %d networks", SPEED_REF_PATHS);
        if (parse_network(lut, s, net, n, paths + (size_t)n * s->n_layers, err) < 0) return -1;
    }
    if (n == 0) return hw_bad_input(err, lut->path, 0, "reference_ops: found no network, expected 1 to %d", SPEED_REF_PATHS);
    return n;
}
