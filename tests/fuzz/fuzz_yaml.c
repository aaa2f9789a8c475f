// The YAML tree (common/yaml_tree.c) under every config, space, arch and
// table: nesting, sizes, anchors, encodings.
#include "common/yaml_tree.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    char* text = fuzz_text(data, size);
    HwErr err = {0};
    YamlDoc* doc = yaml_load_string(text, "fuzz.yaml", &err);
    yaml_free(doc);
    free(text);
    return 0;
}
