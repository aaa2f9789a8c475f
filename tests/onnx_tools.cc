// Runs the ONNX consumers for the export tests (see onnx_tools.h).
#include "onnx_tools.h"

#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "test_util.h"

std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

namespace {

// Runs cmd with its output in a log file; "" on exit 0, else what it said.
std::string run_logged(const std::string& cmd, const std::string& hint) {
    std::string log = test_temp_dir("onnx_tool") + "/log";
    int status = std::system((cmd + " >" + log + " 2>&1").c_str());
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (code == 0) return "";
    // The tool and its first argument name it; the model list can be long.
    std::string tool = cmd.substr(0, cmd.find(' ', cmd.find(' ') + 1));
    std::string missing = code == 2 || code == 127 ? hint + "\n" : "";
    return missing + tool + " exited " + std::to_string(code) + ":\n" + read_text(log);
}

}  // namespace

std::string onnx_check(const std::vector<std::string>& models) {
    std::string cmd = "/usr/bin/python3 tools/onnx_check.py";
    for (const auto& m : models) cmd += " " + m;
    return run_logged(cmd, "python3-onnx is needed: run tools/install-deps.sh (make deps)");
}

std::string ort_run(const std::vector<OrtJob>& jobs) {
    std::string cmd = "node tools/ort_run.js";
    for (const auto& j : jobs) cmd += " " + j.model + " " + j.input + " " + j.shape + " " + j.output;
    return run_logged(cmd, "node and onnxruntime-node in tools/ort are needed: run tools/install-deps.sh (make deps)");
}

std::vector<float> read_floats(const std::string& path) {
    std::string raw = read_text(path);
    std::vector<float> v(raw.size() / sizeof(float));
    if (!v.empty()) std::memcpy(v.data(), raw.data(), v.size() * sizeof(float));
    return v;
}

void write_floats(const std::string& path, const std::vector<float>& v) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}
