// ONNX model builder (see onnx_graph.h).
#include "deploy/onnx_graph.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"

void onnx_graph_init(OnnxGraph* g, int opset) {
    memset(g, 0, sizeof *g);
    g->opset = opset;
}

void onnx_graph_destroy(OnnxGraph* g) {
    for (size_t i = 0; i < g->pool_n; i++) free(g->pool[i]);
    free(g->pool);
    free(g->nodes);
    free(g->inits);
    memset(g, 0, sizeof *g);
}

// Appends p to a growable pointer array; 0, or -1 when out of memory.
static int push(void*** items, size_t* n, size_t* cap, void* p) {
    if (*n == *cap) {
        size_t want = *cap ? 2 * *cap : 64;
        void** grown = realloc(*items, want * sizeof *grown);
        if (!grown) return -1;
        *items = grown, *cap = want;
    }
    (*items)[(*n)++] = p;
    return 0;
}

// Zeroed memory owned by the pool; NULL (and g->failed) when out of memory.
static void* pool_alloc(OnnxGraph* g, size_t bytes) {
    void* p = calloc(1, bytes ? bytes : 1);
    if (!p || push(&g->pool, &g->pool_n, &g->pool_cap, p) < 0) {
        free(p);
        g->failed = 1;
        return NULL;
    }
    return p;
}

const char* onnx_name(OnnxGraph* g, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char* s = len < 0 ? NULL : pool_alloc(g, (size_t)len + 1);
    if (!s) return "";
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return s;
}

// Pool copies of `n` strings.
static char** name_list(OnnxGraph* g, int n, const char* const* names) {
    char** out = pool_alloc(g, (size_t)n * sizeof *out);
    for (int i = 0; out && i < n; i++) out[i] = (char*)onnx_name(g, "%s", names[i]);
    return out;
}

Onnx__NodeProto* onnx_node(OnnxGraph* g, const char* op_type, const char* name, int n_in,
                           const char* const* in, int n_out, const char* const* out) {
    Onnx__NodeProto* n = pool_alloc(g, sizeof *n);
    if (!n) return NULL;
    onnx__node_proto__init(n);
    n->op_type = (char*)onnx_name(g, "%s", op_type);
    n->name = (char*)onnx_name(g, "%s", name);
    n->n_input = (size_t)n_in, n->input = name_list(g, n_in, in);
    n->n_output = (size_t)n_out, n->output = name_list(g, n_out, out);
    n->attribute = pool_alloc(g, 4 * sizeof *n->attribute);  // no node here takes more than 4
    if (!n->input || !n->output || !n->attribute ||
        push((void***)&g->nodes, &g->node_n, &g->node_cap, n) < 0) {
        g->failed = 1;
        return NULL;
    }
    return n;
}

static Onnx__AttributeProto* add_attr(OnnxGraph* g, Onnx__NodeProto* n, const char* name,
                                      Onnx__AttributeProto__AttributeType type) {
    if (!n || n->n_attribute >= 4) return g->failed = 1, NULL;
    Onnx__AttributeProto* a = pool_alloc(g, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = (char*)onnx_name(g, "%s", name);
    a->has_type = 1, a->type = type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

void onnx_attr_int(OnnxGraph* g, Onnx__NodeProto* n, const char* name, int64_t v) {
    Onnx__AttributeProto* a = add_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
}

void onnx_attr_float(OnnxGraph* g, Onnx__NodeProto* n, const char* name, float v) {
    Onnx__AttributeProto* a = add_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = v;
}

void onnx_attr_ints(OnnxGraph* g, Onnx__NodeProto* n, const char* name, const int64_t* v, int count) {
    Onnx__AttributeProto* a = add_attr(g, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t* copy = a ? pool_alloc(g, (size_t)count * sizeof *copy) : NULL;
    if (!copy) return;
    memcpy(copy, v, (size_t)count * sizeof *copy);
    a->n_ints = (size_t)count, a->ints = copy;
}

// An initializer of `elem_size`-byte elements; the proto's raw_data is
// little-endian, as is every machine hwnas builds for.
static const char* add_init(OnnxGraph* g, const char* name, int32_t type, const int64_t* dims, int ndims,
                            const void* data, size_t elem_size) {
    Onnx__TensorProto* t = pool_alloc(g, sizeof *t);
    int64_t* d = pool_alloc(g, (size_t)ndims * sizeof *d);
    size_t count = 1;
    for (int i = 0; i < ndims; i++) count *= (size_t)dims[i];
    void* raw = pool_alloc(g, count * elem_size);
    if (!t || !d || !raw || push((void***)&g->inits, &g->init_n, &g->init_cap, t) < 0) return g->failed = 1, name;
    onnx__tensor_proto__init(t);
    if (ndims > 0) memcpy(d, dims, (size_t)ndims * sizeof *d);  // scalars pass dims NULL
    memcpy(raw, data, count * elem_size);
    t->n_dims = (size_t)ndims, t->dims = d;
    t->has_data_type = 1, t->data_type = type;
    t->name = (char*)onnx_name(g, "%s", name);
    t->has_raw_data = 1, t->raw_data.len = count * elem_size, t->raw_data.data = raw;
    return t->name;
}

const char* onnx_init_f32(OnnxGraph* g, const char* name, const int64_t* dims, int ndims, const float* data) {
    return add_init(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, dims, ndims, data, sizeof(float));
}

const char* onnx_init_i64(OnnxGraph* g, const char* name, const int64_t* dims, int ndims, const int64_t* data) {
    return add_init(g, name, ONNX__TENSOR_PROTO__DATA_TYPE__INT64, dims, ndims, data, sizeof(int64_t));
}

// A float32 tensor ValueInfo; a dim < 1 becomes the symbolic "batch".
static Onnx__ValueInfoProto* value_info(OnnxGraph* g, const char* name, const int64_t* dims, int ndims) {
    Onnx__ValueInfoProto* v = pool_alloc(g, sizeof *v);
    Onnx__TypeProto* type = pool_alloc(g, sizeof *type);
    Onnx__TypeProto__Tensor* tensor = pool_alloc(g, sizeof *tensor);
    Onnx__TensorShapeProto* shape = pool_alloc(g, sizeof *shape);
    Onnx__TensorShapeProto__Dimension** dim = pool_alloc(g, (size_t)ndims * sizeof *dim);
    if (!v || !type || !tensor || !shape || !dim) return NULL;
    for (int i = 0; i < ndims; i++) {
        if (!(dim[i] = pool_alloc(g, sizeof *dim[i]))) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim[i]);
        if (dims[i] >= 1) {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim[i]->dim_value = dims[i];
        } else {
            dim[i]->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim[i]->dim_param = (char*)onnx_name(g, "batch");
        }
    }
    onnx__tensor_shape_proto__init(shape);
    shape->n_dim = (size_t)ndims, shape->dim = dim;
    onnx__type_proto__tensor__init(tensor);
    tensor->has_elem_type = 1, tensor->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tensor->shape = shape;
    onnx__type_proto__init(type);
    type->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE, type->tensor_type = tensor;
    onnx__value_info_proto__init(v);
    v->name = (char*)onnx_name(g, "%s", name);
    v->type = type;
    return v;
}

void onnx_graph_io(OnnxGraph* g, const char* in_name, const int64_t* in_dims, int in_ndims,
                   const char* out_name, const int64_t* out_dims, int out_ndims) {
    g->input = value_info(g, in_name, in_dims, in_ndims);
    g->output = value_info(g, out_name, out_dims, out_ndims);
    if (!g->input || !g->output) g->failed = 1;
}

int onnx_graph_write(OnnxGraph* g, const char* graph_name, const char* path, HwErr* err) {
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto* opsets[1] = {&opset};
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    if (g->failed || !g->input || !g->output) return hw_runtime(err, path, 0, "out of memory building the ONNX model");
    graph.name = (char*)graph_name;
    graph.n_node = g->node_n, graph.node = g->nodes;
    graph.n_initializer = g->init_n, graph.initializer = g->inits;
    graph.n_input = 1, graph.input = &g->input;
    graph.n_output = 1, graph.output = &g->output;
    opset.domain = "", opset.has_version = 1, opset.version = g->opset;
    model.has_ir_version = 1, model.ir_version = ONNX__VERSION__IR_VERSION;
    model.n_opset_import = 1, model.opset_import = opsets;
    model.producer_name = "hwnas";
    model.graph = &graph;
    size_t bytes = protobuf_c_message_get_packed_size(&model.base);
    uint8_t* buf = malloc(bytes ? bytes : 1);
    if (!buf) return hw_runtime(err, path, 0, "out of memory (%zu bytes for the ONNX model)", bytes);
    protobuf_c_message_pack(&model.base, buf);
    int rc = safe_write_whole(path, buf, bytes, err);
    free(buf);
    return rc;
}
