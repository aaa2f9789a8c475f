// The two ONNX consumers that hwnas did not write, for the export tests:
// python3-onnx's checker (tools/onnx_check.py) and ONNX Runtime
// (tools/ort_run.js on the npm package onnxruntime-node in tools/ort/). A
// missing consumer is a test failure that says how to install it, never a skip.
#ifndef HWNAS_TESTS_ONNX_TOOLS_H
#define HWNAS_TESTS_ONNX_TOOLS_H

#include <string>
#include <vector>

// Full check plus strict shape inference of every model; "" when all pass,
// else the checker's output.
std::string onnx_check(const std::vector<std::string>& models);

struct OrtJob {
    std::string model, input, shape, output;  // shape "N,C,H,W"
};
// Runs every job in one ONNX Runtime process; "" on success, else its output.
std::string ort_run(const std::vector<OrtJob>& jobs);

std::string read_text(const std::string& path);
std::vector<float> read_floats(const std::string& path);
void write_floats(const std::string& path, const std::vector<float>& v);

#endif
