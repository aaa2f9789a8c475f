// ONNX export round trip (deploy/onnx_export.c): the input picks a subnet of
// the tiny supernet (tests/spaces/tiny.yaml, every operator) and the export
// options; onnx_export_subnet, the entry `hwnas export` and `hwnas run` use,
// writes it to a file on tmpfs, which is read back with protobuf-c's
// onnx__model_proto__unpack and checked: the default-domain opset is the one
// asked for (13..17), the graph is in order (every node input is the graph
// input, an initializer or an earlier node's output; every value is defined
// once), every initializer's data has the size its dims and type say, and the
// input and output are the documented ones. A violation aborts (a finding).
//
// Input: byte 0 the opset (13 + b % 5), byte 1 the batch (b % 4, 0 =
// symbolic), then one byte per layer: the operator (b % the layer's count).
// (hwnas reads no ONNX, so raw bytes unpacked by protobuf-c would test only
// that library: not a mode here.)
#include <dirent.h>

#include "deploy/onnx_export.h"
#include "fuzz_net.h"
#include "onnx.pb-c.h"

static char g_model[128];  // the model file of this process, removed at exit

static void remove_model(void) {
    unlink(g_model);
    char* slash = strrchr(g_model, '/');
    if (slash) *slash = 0, rmdir(g_model);
}

static const char* model_path(void) {
    if (!g_model[0]) {
        char dir[64] = "/dev/shm/hwnas-fuzz-onnx-XXXXXX";  // tmpfs: the export's fsync costs nothing
        if (!mkdtemp(dir)) {
            snprintf(dir, sizeof dir, "/tmp/hwnas-fuzz-onnx-XXXXXX");
            if (!mkdtemp(dir)) abort();
        }
        snprintf(g_model, sizeof g_model, "%s/model.onnx", dir);
        atexit(remove_model);
    }
    return g_model;
}

__attribute__((noreturn)) static void violation(const char* what, const char* name) {
    fprintf(stderr, "fuzz_onnx_roundtrip: exported model breaks an invariant: %s (%s)\n", what, name ? name : "");
    abort();
}

static uint8_t* read_model(const char* path, size_t* size) {
    FILE* fp = fopen(path, "rb");
    if (!fp) violation("the export reported success but wrote no file", path);
    uint8_t* buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap && !(buf = realloc(buf, cap = cap ? 2 * cap : 1 << 16))) abort();
        size_t got = fread(buf + n, 1, cap - n, fp);
        if (got == 0) break;
        n += got;
    }
    fclose(fp);
    *size = n;
    return buf;
}

// Names defined so far (graph input, initializers, node outputs).
typedef struct Defined {
    const char** names;
    size_t n;
} Defined;

static int is_defined(const Defined* d, const char* name) {
    for (size_t i = 0; i < d->n; i++)
        if (!strcmp(d->names[i], name)) return 1;
    return 0;
}

static void define(Defined* d, const char* name) {
    if (!name || !name[0]) violation("a value without a name", name);
    if (is_defined(d, name)) violation("a value defined twice", name);
    d->names[d->n++] = name;
}

static void check_initializer(const Onnx__TensorProto* t) {
    size_t count = 1;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 0 || t->dims[i] > (1 << 24)) violation("an initializer dim out of range", t->name);
        count *= (size_t)t->dims[i];
    }
    size_t elem = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT   ? 4
                  : t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64 ? 8
                                                                         : 0;
    if (!t->has_data_type || !elem) violation("an initializer neither float32 nor int64", t->name);
    size_t held = t->has_raw_data ? t->raw_data.len : elem == 4 ? 4 * t->n_float_data : 8 * t->n_int64_data;
    if (held != count * elem) violation("an initializer's data is not the size of its dims", t->name);
}

static void check_io(const Onnx__GraphProto* g, const OnnxOptions* opt) {
    if (g->n_input != 1 || g->n_output != 1 || strcmp(g->input[0]->name, "input") ||
        strcmp(g->output[0]->name, "logits"))
        violation("the graph's input and output are not input and logits", NULL);
    const Onnx__TypeProto* type = g->input[0]->type;
    if (!type || !type->tensor_type || !type->tensor_type->shape || type->tensor_type->shape->n_dim != 4)
        violation("the input is not a 4-d tensor", "input");
    const Onnx__TensorShapeProto__Dimension* batch = type->tensor_type->shape->dim[0];
    int symbolic = batch->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    if (opt->batch ? symbolic || batch->dim_value != opt->batch : !symbolic)
        violation("the input's batch dimension is not the one asked for", "input");
}

static void check_graph(const Onnx__GraphProto* g, const OnnxOptions* opt) {
    check_io(g, opt);
    if (g->n_node == 0 || g->n_initializer == 0) violation("a graph without nodes or weights", NULL);
    size_t values = g->n_input + g->n_initializer;
    for (size_t i = 0; i < g->n_node; i++) values += g->node[i]->n_output;
    Defined d = {malloc(sizeof(char*) * (values + 1)), 0};
    if (!d.names) abort();
    define(&d, g->input[0]->name);
    for (size_t i = 0; i < g->n_initializer; i++) {
        check_initializer(g->initializer[i]);
        define(&d, g->initializer[i]->name);
    }
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto* n = g->node[i];
        if (!n->op_type || !n->op_type[0] || (n->domain && n->domain[0]))
            violation("a node outside the default domain", n->name);
        for (size_t k = 0; k < n->n_input; k++)
            if (!is_defined(&d, n->input[k])) violation("a node input that is defined nowhere before it", n->input[k]);
        for (size_t k = 0; k < n->n_output; k++) define(&d, n->output[k]);
    }
    if (!is_defined(&d, "logits")) violation("no node computes the output", "logits");
    free(d.names);
}

static void check_model(const uint8_t* buf, size_t size, const OnnxOptions* opt) {
    Onnx__ModelProto* m = onnx__model_proto__unpack(NULL, size, buf);
    if (!m) violation("protobuf-c cannot unpack the file", NULL);
    int opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++)
        if (!m->opset_import[i]->domain || !m->opset_import[i]->domain[0]) opset = (int)m->opset_import[i]->version;
    if (opset < ONNX_OPSET_MIN || opset != opt->opset)
        violation("the default domain's opset is not the one asked for", NULL);
    if (!m->graph) violation("no graph", NULL);
    check_graph(m->graph, opt);
    onnx__model_proto__free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Supernet* sn = fuzz_supernet();
    const Space* s = &sn->space;
    if (size < 2 + (size_t)s->n_layers) return 0;
    OnnxOptions opt = {ONNX_OPSET_MIN + data[0] % 5, data[1] % 4};
    int path[SPACE_MAX_LAYERS] = {0};
    for (int l = 0; l < s->n_layers; l++) path[l] = data[2 + l] % s->layers[l].n_ops;
    HwErr err = {0};
    const char* file = model_path();
    if (onnx_export_subnet(sn, path, &opt, file, &err) < 0) {
        fprintf(stderr, "fuzz_onnx_roundtrip: export failed: %s\n", err.msg);
        abort();  // every path of a valid supernet exports
    }
    size_t n = 0;
    uint8_t* buf = read_model(file, &n);
    check_model(buf, n, &opt);
    free(buf);
    return 0;
}
