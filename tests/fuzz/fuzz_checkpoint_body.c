// Checkpoints past their CRC (supernet/checkpoint.c). fuzz_checkpoint gives
// the whole file and stops at the checksum; here the input is the part of a
// checkpoint a run writes from its state (after the magic: version, step,
// epoch, batch, the three sizes, the config size and the config text), and
// the harness completes it as checkpoint_save does: the magic, the config
// size recomputed, the sizes of its supernet (unless the mode byte keeps the
// input's), the weights (zeros), and the CRC-32 of it all. Then
// checkpoint_load reads it, the state is checked against a run as the
// trainer checks it, and the saved config is parsed as a config file.
//
// Input: a mode byte, then the 44 header bytes after the magic, then the
// config text. Mode bit 0: keep the input's parameter, running and block
// counts; bit 1: one stray byte after the body; bit 2: a wrong CRC; bits
// 4..7: the batches per epoch of the resuming run (0: not known yet).
//
// The seeds are the headers and configs of real checkpoints of the tiny
// supernet (make_seeds); the supernet here is a one-layer one, so that its
// weights (2 MB for tiny) do not slow every execution: the parser reads
// them without looking at them.
#include "common/config.h"
#include "fuzz_input.h"
#include "kernels/ops.h"
#include "supernet/checkpoint.h"
#include "supernet/space.h"
#include "supernet/supernet.h"

static const char kMiniSpace[] =
    "name: mini\ninput: [4, 4, 1]\nclasses: 2\nstem: {out: 2, kernel: 3, stride: 1}\n"
    "layers:\n  - {out: 2, stride: 1, ops: [skip, sep_k3]}\nhead: {features: 0}\n";

static Supernet* mini_supernet(void) {
    static Supernet* sn;
    static Space space;
    static OpContext ctx = {1, NULL};
    if (!sn) {
        HwErr err = {0};
        FuzzFile f;
        fuzz_file_open(&f, (const uint8_t*)kMiniSpace, sizeof kMiniSpace - 1);
        if (space_load(&space, f.path, &err) < 0 || !(sn = supernet_create(&space, &ops_cpu, &ctx, 2, &err)) ||
            supernet_init_params(sn, 1, &err) < 0) {
            fprintf(stderr, "fuzz: %s\n", err.msg);
            abort();
        }
        fuzz_file_close(&f);
    }
    return sn;
}

enum { HEADER_AFTER_MAGIC = 44, AT_SIZES = 28 - 8, AT_CONFIG_BYTES = 48 - 8 };

static void put_u32(unsigned char* at, uint32_t v) { memcpy(at, &v, 4); }
static void put_u64(unsigned char* at, uint64_t v) { memcpy(at, &v, 8); }

// The checkpoint file of the input (malloc'd), *n its size; NULL when the
// input is shorter than the header.
static unsigned char* complete_checkpoint(const Supernet* sn, const uint8_t* data, size_t size, size_t* n) {
    if (size < 1 + HEADER_AFTER_MAGIC) return NULL;
    int mode = data[0];
    const uint8_t* header = data + 1;
    const uint8_t* config = header + HEADER_AFTER_MAGIC;
    size_t config_bytes = size - 1 - HEADER_AFTER_MAGIC;
    size_t weights = (2 * sn->param_floats + sn->running_floats) * sizeof(float) + sizeof(int64_t) * sn->n_blocks;
    size_t stray = mode & 2 ? 1 : 0;
    *n = 8 + HEADER_AFTER_MAGIC + config_bytes + weights + stray + 4;
    unsigned char* buf = calloc(*n, 1);
    if (!buf) abort();
    memcpy(buf, "HWNASCK", 8);
    memcpy(buf + 8, header, HEADER_AFTER_MAGIC);
    if (!(mode & 1)) {
        put_u64(buf + 8 + AT_SIZES, sn->param_floats);
        put_u64(buf + 8 + AT_SIZES + 8, sn->running_floats);
        put_u32(buf + 8 + AT_SIZES + 16, (uint32_t)sn->n_blocks);
    }
    put_u32(buf + 8 + AT_CONFIG_BYTES, (uint32_t)config_bytes);
    memcpy(buf + 8 + HEADER_AFTER_MAGIC, config, config_bytes);
    uint32_t crc = checkpoint_crc32(buf, *n - 4) ^ (mode & 4 ? 1u : 0u);
    put_u32(buf + *n - 4, crc);
    return buf;
}

// The saved config, read back as a config file: its train.epochs (the
// default when it does not parse) is the resuming run's.
static int parse_config(const char* text) {
    FuzzFile f;
    fuzz_file_open(&f, (const uint8_t*)text, strlen(text));
    Config* cfg = (Config*)malloc(sizeof(Config));
    if (!cfg) abort();
    HwErr err = {0};
    config_defaults(cfg);
    if (config_load(cfg, f.path, &err) < 0) config_defaults(cfg);
    int epochs = cfg->train.epochs;
    free(cfg);
    fuzz_file_close(&f);
    return epochs;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Supernet* sn = mini_supernet();
    size_t n = 0;
    unsigned char* file = complete_checkpoint(sn, data, size, &n);
    if (!file) return 0;
    FuzzFile f;
    fuzz_file_open(&f, file, n);
    free(file);
    TrainState st;
    char* config_text = NULL;
    HwErr err = {0};
    if (checkpoint_load(f.path, sn, &st, &config_text, &err) == 0 && config_text)
        checkpoint_check_state(f.path, &st, parse_config(config_text), data[0] >> 4, &err);
    free(config_text);
    fuzz_file_close(&f);
    return 0;
}
