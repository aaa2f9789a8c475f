// Block models, their manifest and ONNX Runtime timings (see latency_ort.h).
#include "src/latency_ort.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "deploy/onnx_blocks.h"
#include "search/latency.h"
#include "search/speed_reference.h"
#include "search/lut_csv.h"
#include "supernet/trainer.h"

static int block_index(const Supernet* sn, const BlockRow* r) {
    if (r->position == 0) return 0;
    if (r->layer == sn->space.n_layers) return sn->n_blocks - 1;
    return sn->layer_first[r->layer] + r->op;
}

// A model's file name, "b<index>_<layer>_<op>.onnx": at most 1 + 11 + 1 + 15
// + 1 + 31 + 5 bytes and its NUL (BlockRow's fields are bounded).
enum { MODEL_NAME_MAX = 80 };

// Writes the models; files[i] is row i's file name (shared by equal keys).
static int write_models(const Supernet* sn, const char* dir, const BlockRow* rows, int n, char (*files)[MODEL_NAME_MAX],
                        HwErr* err) {
    OnnxOptions opt = onnx_options_default();
    opt.batch = 1;
    for (int i = 0; i < n; i++) {
        int first = 0;
        while (first < i && strcmp(rows[first].key, rows[i].key) != 0) first++;
        if (first < i) {
            memcpy(files[i], files[first], sizeof files[i]);
            continue;
        }
        snprintf(files[i], sizeof files[i], "b%03d_%s_%s.onnx", i, rows[i].layer_name, rows[i].op_name);
        char path[SAFE_PATH_MAX];
        if (safe_path(path, sizeof path, err, "%s/%s", dir, files[i]) < 0) return -1;
        if (onnx_export_block(sn, rows[i].position, block_index(sn, &rows[i]), &opt, path, err) < 0) return -1;
    }
    return 0;
}

int ort_export_blocks(const Supernet* sn, const char* dir, HwErr* err) {
    BlockRow* rows = NULL;
    int n = 0;
    if (safe_output_dir(dir, err) < 0 || lut_csv_rows(&sn->space, &rows, &n, err) < 0) return -1;
    char(*files)[MODEL_NAME_MAX] = calloc((size_t)n, sizeof *files);
    char path[SAFE_PATH_MAX];
    int rc = files ? 0 : hw_runtime(err, NULL, 0, "out of memory");
    if (rc == 0) rc = write_models(sn, dir, rows, n, files, err);
    if (rc == 0) rc = safe_path(path, sizeof path, err, "%s/manifest.csv", dir);
    SafeFile f;
    if (rc == 0) rc = safe_file_begin(&f, path, err);
    if (rc == 0) {
        safe_file_printf(&f, "layer,op,key,file,input\n");
        for (int i = 0; i < n; i++)
            safe_file_printf(&f, "%s,%s,%s,%s,1x%dx%dx%d\n", rows[i].layer_name, rows[i].op_name, rows[i].key, files[i],
                             rows[i].in_c, rows[i].in_h, rows[i].in_w);
        rc = safe_file_commit(&f, err);
    }
    free(files);
    free(rows);
    return rc;
}

static int script_path(char* out, size_t cap, HwErr* err) {
    const char* env = getenv("HWNAS_ORT_TIME");
    if (env && env[0]) return safe_path(out, cap, err, "%s", env);
    char exe[SAFE_PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return hw_runtime(err, NULL, 0, "cannot find the hwnas binary's folder: set HWNAS_ORT_TIME");
    exe[len] = '\0';
    char* slash = strrchr(exe, '/');
    if (slash) *slash = '\0';
    return safe_path(out, cap, err, "%s/../tools/ort_time.js", exe);
}

// Runs node SCRIPT args... and waits; stdout to `out_fd` when >= 0.
static int run_node(const char* const* args, int nargs, int out_fd, HwErr* err) {
    char script[SAFE_PATH_MAX];
    if (script_path(script, sizeof script, err) < 0) return -1;
    const char* node = getenv("HWNAS_NODE") && getenv("HWNAS_NODE")[0] ? getenv("HWNAS_NODE") : "node";
    const char* argv[16] = {node, script};
    for (int i = 0; i < nargs && i < 13; i++) argv[2 + i] = args[i];
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) return hw_runtime(err, NULL, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (out_fd >= 0) dup2(out_fd, STDOUT_FILENO);
        execvp(node, (char* const*)argv);
        fprintf(stderr, "hwnas: error: cannot run %s: %s (install Node.js, or set HWNAS_NODE)\n", node, strerror(errno));
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    return hw_runtime(err, NULL, 0, "ONNX Runtime timing failed (%s %s exited %d; see the line above)", node, script,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

int ort_time_csv(const char* in_csv, const char* out_csv, const OrtTiming* t, HwErr* err) {
    char th[16], wu[16], ru[16], ch[16];
    snprintf(th, sizeof th, "%d", t->threads), snprintf(wu, sizeof wu, "%d", t->warmup);
    snprintf(ru, sizeof ru, "%d", t->runs), snprintf(ch, sizeof ch, "%d", t->chunk);
    const char* args[] = {in_csv, out_csv, "--threads", th, "--warmup", wu, "--runs", ru, "--chunk", ch};
    return run_node(args, t->chunk > 0 ? 10 : 8, -1, err);
}

int ort_version(char* out, size_t cap, HwErr* err) {
    int fds[2];
    if (pipe(fds) < 0) return hw_runtime(err, NULL, 0, "pipe: %s", strerror(errno));
    const char* args[] = {"--version"};
    int rc = run_node(args, 1, fds[1], err);
    close(fds[1]);
    ssize_t got = rc == 0 ? read(fds[0], out, cap - 1) : 0;
    close(fds[0]);
    if (rc < 0) return -1;
    out[got > 0 ? got : 0] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

// The ms column (third from last: ms,std,n) of each row of ort_time.js's output.
static int read_ms(const char* path, double* ms, int k, HwErr* err) {
    FILE* fp = fopen(path, "r");
    if (!fp) return hw_runtime(err, path, 0, "cannot open ONNX Runtime's timings");
    char line[1024];
    int i = -1;
    while (fgets(line, sizeof line, fp) && i < k) {
        if (i >= 0) {
            char* f[3] = {0};
            for (int j = 0; j < 3; j++) {
                char* c = strrchr(line, ',');
                if (!c) break;
                *c = '\0', f[j] = c + 1;
            }
            ms[i] = f[2] ? strtod(f[2], NULL) : -1;
        }
        i++;
    }
    fclose(fp);
    if (i != k) return hw_runtime(err, path, 0, "%d timings, expected %d", i < 0 ? 0 : i, k);
    return 0;
}

int ort_time_subnets(const Supernet* sn, const int* paths, int k, const char* dir, const OrtTiming* t, double* ms,
                     HwErr* err) {
    const Space* s = &sn->space;
    OnnxOptions opt = onnx_options_default();
    opt.batch = 1;
    char path[SAFE_PATH_MAX], in_csv[SAFE_PATH_MAX], out_csv[SAFE_PATH_MAX];
    if (safe_output_dir(dir, err) < 0 || safe_path(in_csv, sizeof in_csv, err, "%s/subnets.csv", dir) < 0 ||
        safe_path(out_csv, sizeof out_csv, err, "%s/subnets_ms.csv", dir) < 0)
        return -1;
    SafeFile f;
    if (safe_file_begin(&f, in_csv, err) < 0) return -1;
    safe_file_printf(&f, "ops,file,input\n");
    for (int i = 0; i < k; i++) {
        const int* p = paths + (size_t)i * s->n_layers;
        if (safe_path(path, sizeof path, err, "%s/subnet_%03d.onnx", dir, i) < 0 ||
            onnx_export_subnet(sn, p, &opt, path, err) < 0) {
            safe_file_abort(&f);
            return -1;
        }
        for (int l = 0; l < s->n_layers; l++) safe_file_printf(&f, "%s%d", l ? "-" : "", p[l]);
        safe_file_printf(&f, ",subnet_%03d.onnx,1x%dx%dx%d\n", i, s->in_c, s->in_h, s->in_w);
    }
    if (safe_file_commit(&f, err) < 0 || ort_time_csv(in_csv, out_csv, t, err) < 0) return -1;
    return read_ms(out_csv, ms, k, err);
}

int ort_calibrate(const Supernet* sn, Lut* lut, int count, const char* dir, const OrtTiming* t, double* per_entry_ms,
                  HwErr* err) {
    *per_entry_ms = 0;
    const Space* s = &sn->space;
    int* paths = calloc((size_t)count * s->n_layers, sizeof(int));
    double* meas = malloc(sizeof(double) * (size_t)count);
    int rc = paths && meas ? 0 : hw_runtime(err, NULL, 0, "out of memory");
    // The subnets `latency profile` calibrates the hwnas table on.
    for (int i = 0; rc == 0 && i < count; i++) sample_path(sn, 0xCA11B, (uint64_t)i, 0, NULL, paths + i * s->n_layers);
    lut->scale = 1.0, lut->offset_ms = 0.0;
    OrtTiming all = *t;
    all.chunk = count;  // every calibration subnet timed in the same rounds
    if (rc == 0) rc = ort_time_subnets(sn, paths, count, dir, &all, meas, err);
    if (rc == 0 && count >= (int)SPEED_REF_PATHS) {
        double ref_ms = 0;
        for (int i = 0; i < (int)SPEED_REF_PATHS; i++) ref_ms += meas[i];
        rc = speed_reference_set(lut, s, paths, SPEED_REF_PATHS, ref_ms, err);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; rc == 0 && i < count; i++) {
        double sum;
        rc = latency_predict(lut, s, paths + i * s->n_layers, &sum, err);
        sx += sum, sy += meas[i], sxx += sum * sum, sxy += sum * meas[i];
    }
    if (rc == 0 && sxx > 0) {
        double scale, offset;
        rc = lut_fit_calibration(sx, sy, sxx, sxy, count, 1, &scale, &offset, err);
        if (rc == 0 && offset < 0) {
            // Each entry carries one session.run's fixed cost, a whole subnet
            // only one: every prediction sums exactly n_layers + 2 entries, so
            // a negative offset is that cost, taken off each entry.
            *per_entry_ms = -offset / (scale * (s->n_layers + 2));
            for (int i = 0; i < lut->count; i++)
                lut->entries[i].mean = lut->entries[i].mean > *per_entry_ms ? lut->entries[i].mean - *per_entry_ms : 0;
            offset = 0;
        }
        lut->scale = scale, lut->offset_ms = offset;
    }
    free(paths);
    free(meas);
    return rc;
}
