// hwnas space (hardware-specific search space) and hwnas search
// (evolutionary search with inherited weights under a latency limit).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "search/latency.h"
#include "search/lut.h"
#include "search/search_run.h"
#include "search/space_gen.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "supernet/checkpoint.h"
#include "supernet/evaluate.h"
#include "supernet/space.h"

typedef struct SearchArgs {
    const char *config, *target, *out, *supernet, *space, *device;
    const char *latency_ms, *threads;  // numeric flags, read over the loaded config
    int random;
    CostFlags costs;  // --max-params, --max-mflops, --max-peak-kb
    ConfigOverrides sets;
} SearchArgs;

static int parse(int argc, char** argv, SearchArgs* a, const char* usage) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', SearchArgs, config),       FLAG_TEXT_ROW("target", 0, SearchArgs, target),
        FLAG_TEXT_ROW("out", 'o', SearchArgs, out),             FLAG_TEXT_ROW("supernet", 0, SearchArgs, supernet),
        FLAG_TEXT_ROW("space", 0, SearchArgs, space),           FLAG_TEXT_ROW("latency-ms", 0, SearchArgs, latency_ms),
        FLAG_TEXT_ROW("device", 0, SearchArgs, device),         FLAG_ON_ROW("random-baseline", SearchArgs, random),
        FLAG_TEXT_ROW("threads", 0, SearchArgs, threads),       FLAG_SET_ROW(SearchArgs, sets),
        COST_FLAG_ROWS(SearchArgs, costs),                      FLAG_END};
    memset(a, 0, sizeof *a);
    return flags_parse(argc, argv, flags, a, usage, NULL);
}

// The config, then --set, then the flags (--target as the key `target`,
// latency_ms, train.threads, train.device).
static int load_config(const SearchArgs* a, Config* cfg, HwErr* err) {
    config_defaults(cfg);
    if ((a->config && config_load(cfg, a->config, err) < 0) || overrides_apply(&a->sets, cfg, err) < 0) return -1;
    if (a->target && config_override_flag(cfg, "--target", "target", a->target, err) < 0) return -1;
    if (a->device && config_override_flag(cfg, "--device", "train.device", a->device, err) < 0) return -1;
    if (a->latency_ms && config_override_flag(cfg, "--latency-ms", "latency_ms", a->latency_ms, err) < 0) return -1;
    if (a->threads && config_override_flag(cfg, "--threads", "train.threads", a->threads, err) < 0) return -1;
    return cost_flags_apply(&a->costs, cfg, err);
}

static const char* kSpaceUsage =
    "usage: hwnas space -c CONFIG --target TARGET -o SPACE.yaml [--space S] [--set KEY=VALUE ...]\n"
    "Ranks the operators of every layer of the config's space on TARGET (a latency\n"
    "table, or `cpu` to measure this machine now) by capacity per unit of latency\n"
    "(space_gen.capacity: flops|params; space_gen.score: capacity_per_latency|latency)\n"
    "and keeps the best space_gen.top_k per layer (plus skip where offered).\n";

int cmd_space(int argc, char** argv) {
    SearchArgs a;
    int p = parse(argc, argv, &a, kSpaceUsage);
    if (p) return p == 1 ? 0 : 2;
    if (!a.target || !a.out) {
        fputs(kSpaceUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    Config cfg;
    Space pool, out;
    if (load_config(&a, &cfg, &err) < 0 || space_load(&pool, a.space ? a.space : cfg.space, &err) < 0)
        return cli_fail(&err);
    Lut* lut = target_open(&cfg.target, &pool, cfg.train.threads, 0, &err);
    if (!lut) return cli_fail(&err);
    RankTable* tables = calloc((size_t)pool.n_layers, sizeof(RankTable));
    const char* name = cfg.target.kind == TARGET_CPU ? "cpu" : "target";
    int rc = 0;
    if (!tables || space_generate(&pool, lut, &cfg.space_gen, name, &out, tables, &err) < 0 ||
        space_write_ranked(&out, tables, config_target_name(&cfg.target), a.out, &err) < 0)
        rc = cli_fail(&err);
    else
        fprintf(stderr, "hwnas space: %s: 10^%.1f -> 10^%.1f architectures -> %s\n", pool.name, space_log10_size(&pool),
                space_log10_size(&out), a.out);
    free(tables);
    lut_free(lut);
    return rc;
}

static const char* kSearchUsage =
    "usage: hwnas search -c CONFIG --supernet CKPT --target TARGET --latency-ms X -o DIR\n"
    "                    [--space SPACE] [--random-baseline] [--device cpu|cuda] [--set KEY=VALUE ...]\n"
    "                    [--max-params N] [--max-mflops X] [--max-peak-kb X]\n"
    "Evolutionary search (SPOS settings from the config's `search` section) with\n"
    "inherited weights, BN recalibrated per candidate, every candidate over X ms\n"
    "(predicted from TARGET) rejected before evaluation, and so is every one over\n"
    "a --max-* limit (search.max_params; max_mflops: FLOPs per image in millions;\n"
    "max_peak_kb: peak activation KiB at batch 1; 0 = none). Writes DIR/search.csv,\n"
    "pareto.csv and best.yaml; a killed search continues from DIR/search.csv.\n"
    "A DIR that is a symbolic link is refused unless HWNAS_ALLOW_SYMLINK_OUTPUT=1.\n";

int cmd_search(int argc, char** argv) {
    SearchArgs a;
    int p = parse(argc, argv, &a, kSearchUsage);
    if (p) return p == 1 ? 0 : 2;
    if (!a.supernet || !a.target || !a.out) {
        fputs(kSearchUsage, stderr);
        return 2;
    }
    HwErr err = {0};
    Config cfg;
    if (load_config(&a, &cfg, &err) < 0) return cli_fail(&err);
    double limit = cfg.latency_ms;
    Space space;
    if (space_load(&space, a.space ? a.space : cfg.space, &err) < 0 || batch_feed_check_data(&cfg.data, cfg.path, &space, &err) < 0 ||
        make_dirs(a.out, &err) < 0)
        return cli_fail(&err);
    Lut* lut = target_open(&cfg.target, &space, cfg.train.threads, 0, &err);
    if (!lut) return cli_fail(&err);
    Device dev;
    Supernet* sn = NULL;
    Evaluator* ev = NULL;
    TrainState st;
    int rc = 0;
    EvalOptions valid = eval_options(&cfg, SPLIT_VALID, cfg.search.bn_images, cfg.search.val_images);
    if (device_open(&dev, cfg.train.device, cfg.train.threads, &err) < 0 ||
        !(sn = supernet_create(&space, dev.ops, &dev.ctx, cfg.train.batch, &err)) ||
        checkpoint_load(a.supernet, sn, &st, NULL, &err) < 0 ||
        !(ev = evaluator_create(sn, &valid, &err))) {
        rc = cli_fail(&err);
        goto done;
    }
    SearchJob job = {&cfg.search, sn, ev, lut, limit, NULL, a.out, "", a.random, 0};
    SearchOutcome res;
    if (search_run(&job, &res, &err) < 0) {
        rc = cli_fail(&err);
        goto done;
    }
    printf("best top1 %.4f latency_ms %.4f evaluated %d rejected %d seconds %.1f params %.0f mflops %.4f peak_kb %.2f\n",
           res.best.top1, res.best.latency_ms, res.evaluated, res.rejected, res.seconds, res.best.cost[COST_PARAMS],
           res.best.cost[COST_MFLOPS], res.best.cost[COST_PEAK_KB]);
    if (res.rejected)
        fprintf(stderr, "hwnas search: rejected before evaluation: %d over the latency limit, %d over max_params, %d "
                        "over max_mflops, %d over max_peak_kb\n",
                res.rejected_latency, res.rejected_cost[COST_PARAMS], res.rejected_cost[COST_MFLOPS],
                res.rejected_cost[COST_PEAK_KB]);
    if (res.has_random)
        printf("random top1 %.4f latency_ms %.4f evaluated %d seconds %.1f\n", res.random_best.top1,
               res.random_best.latency_ms, res.random_evaluated, res.random_seconds);
done:
    evaluator_destroy(ev);
    supernet_destroy(sn);
    device_close(&dev);
    lut_free(lut);
    return rc;
}
