// hwnas bench ranking: how well a trained supernet ranks architectures. N
// subnets spread over the predicted latency range (search/rank_select.h) are
// scored twice: with inherited weights, BN recalibrated (the search's own
// evaluator), and trained stand-alone from scratch with one small proxy
// recipe; the agreement is Kendall's tau-b, Spearman's rho and top-3
// (search/rank_stats.h). Wiring only: selection, statistics and ranking.csv
// live in search/.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/safe_file.h"
#include "search/rank_csv.h"
#include "search/rank_select.h"
#include "search/rank_stats.h"
#include "src/cli_flags.h"
#include "src/cmd_common.h"
#include "src/commands.h"
#include "src/device.h"
#include "src/svg.h"
#include "supernet/checkpoint.h"
#include "supernet/run_dir.h"
#include "supernet/trainer.h"

// The default proxy budget: 20 subnets in about 2 hours on 2 cores on
// Fashion-MNIST (fixed-architecture training runs at ~186 images/s there,
// README "retrained from scratch"): 2 epochs over half of the 50,000
// training images = 50,000 images, ~4.5 min per subnet.
#define RANK_DEFAULT_SUBNETS 20
#define RANK_DEFAULT_EPOCHS 2
#define RANK_DEFAULT_FRACTION 0.5
#define RANK_TOP_K 3

static const char* kRankUsage =
    "usage: hwnas bench ranking --supernet RUN_DIR|CKPT [-c CONFIG] [-n 20] [--epochs 2]\n"
    "                           [--train-fraction 0.5] [--seed S] [--target TARGET] [-o DIR]\n"
    "                           [--threads N] [--device cpu|cuda] [--resume] [--standalone-from DIR2]\n"
    "                           [--set KEY=VALUE ...]\n"
    "How well the supernet ranks architectures: N subnets at evenly spaced predicted\n"
    "latencies (fastest to slowest of the space, under TARGET), each scored with\n"
    "inherited weights (BN recalibrated, as the search does) and trained stand-alone\n"
    "from scratch (E epochs on fraction F of the training split, finetune.retrain_lr,\n"
    "the config's train recipe), both top-1 on the validation split (data.holdout,\n"
    "search.val_images of it). Writes DIR/ranking.csv (after every subnet), ranking.md\n"
    "(Kendall tau-b, Spearman rho, top-3 agreement) and ranking.svg; default DIR\n"
    "runs/bench-ranking. RUN_DIR means its stage2.ckpt, else supernet.ckpt; CONFIG\n"
    "defaults to config.yaml beside the checkpoint (its space is the supernet's).\n"
    "--seed sets train.seed (selection and initialization). Rerunning into the same\n"
    "DIR (with or without --resume) keeps finished subnets; other settings are refused.\n"
    "--standalone-from DIR2 takes the stand-alone results of DIR2, a ranking of another\n"
    "supernet over the same space, table, seed, recipe and budget (checked): only the\n"
    "inherited scores are measured again for the subnets DIR2 has finished.\n"
    "Default budget: 20 subnets x 2 epochs x 50%% of Fashion-MNIST, about 2 h on 2 cores.\n";

typedef struct RankArgs {
    const char *config, *supernet, *out, *target, *threads, *device, *seed, *standalone_from;
    int n, epochs;
    int resume;  // accepted, changes nothing: finished subnets are always kept
    double fraction;
    ConfigOverrides sets;
} RankArgs;

// A fraction in (0, 1], the whole argument a number.
static int take_fraction(void* out, const char* text, HwErr* err) {
    char* end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !(v > 0 && v <= 1))
        return hw_bad_input(err, NULL, 0, "--train-fraction: found '%s', expected a number in (0, 1]", text);
    *(double*)out = v;
    return 0;
}

// 0 to run, 1 after --help, 2 on a usage error (printed).
static int parse_rank_args(int argc, char** argv, RankArgs* a) {
    static const Flag flags[] = {
        FLAG_TEXT_ROW("config", 'c', RankArgs, config),     FLAG_TEXT_ROW("supernet", 0, RankArgs, supernet),
        FLAG_TEXT_ROW("out", 'o', RankArgs, out),           FLAG_INT_ROW(NULL, 'n', RankArgs, n, 2, RANK_SELECT_MAX),
        FLAG_INT_ROW("epochs", 0, RankArgs, epochs, 1, 10000),
        FLAG_CUSTOM_ROW("train-fraction", RankArgs, fraction, take_fraction),
        FLAG_TEXT_ROW("seed", 0, RankArgs, seed),           FLAG_TEXT_ROW("target", 0, RankArgs, target),
        FLAG_TEXT_ROW("threads", 0, RankArgs, threads),     FLAG_TEXT_ROW("device", 0, RankArgs, device),
        FLAG_ON_ROW("resume", RankArgs, resume),            FLAG_SET_ROW(RankArgs, sets),
        FLAG_TEXT_ROW("standalone-from", 0, RankArgs, standalone_from), FLAG_END};
    *a = (RankArgs){.out = "runs/bench-ranking", .n = RANK_DEFAULT_SUBNETS, .epochs = RANK_DEFAULT_EPOCHS,
                    .fraction = RANK_DEFAULT_FRACTION};
    int next, rc = flags_parse(argc, argv, flags, a, kRankUsage, &next);
    if (rc) return rc;
    if (next != argc || !a->supernet) {
        if (next != argc) fprintf(stderr, "hwnas: error: bench ranking: unexpected argument '%s'\n", argv[next]);
        else fprintf(stderr, "hwnas: error: bench ranking: --supernet RUN_DIR|CKPT is required\n");
        return 2;
    }
    return 0;
}

// RUN_DIR -> its stage2.ckpt (the two-stage run's last supernet), else its
// supernet.ckpt (SPOS); a file is taken as it is.
static int resolve_supernet(const char* arg, char* out, size_t cap, HwErr* err) {
    struct stat st;
    if (stat(arg, &st) != 0) return hw_bad_input(err, arg, 0, "cannot read: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode)) return safe_path(out, cap, err, "%s", arg);
    if (run_dir_file(out, cap, arg, RUN_STAGE2_CKPT, err) < 0) return -1;
    if (access(out, F_OK) == 0) return 0;
    if (run_dir_file(out, cap, arg, RUN_SUPERNET_CKPT, err) < 0) return -1;
    if (access(out, F_OK) == 0) return 0;
    return hw_bad_input(err, arg, 0, "no %s or %s in this run directory", RUN_STAGE2_CKPT, RUN_SUPERNET_CKPT);
}

// The config (-c, else config.yaml beside the checkpoint), then --set, then
// the flags that stand for keys.
static int load_rank_config(const RankArgs* a, const char* ckpt, Config* cfg, HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (a->config) {
        if (safe_path(path, sizeof path, err, "%s", a->config) < 0) return -1;
    } else if (run_dir_beside(path, sizeof path, ckpt, RUN_CONFIG, err) < 0) {
        return -1;
    }
    config_defaults(cfg);
    if (run_dir_config_load(cfg, path, err) < 0 || overrides_apply(&a->sets, cfg, err) < 0) return -1;
    if ((a->target && config_override_flag(cfg, "--target", "target", a->target, err) < 0) ||
        (a->threads && config_override_flag(cfg, "--threads", "train.threads", a->threads, err) < 0) ||
        (a->device && config_override_flag(cfg, "--device", "train.device", a->device, err) < 0) ||
        (a->seed && config_override_flag(cfg, "--seed", "train.seed", a->seed, err) < 0))
        return -1;
    return 0;
}

// Everything one ranking holds; on the heap (the space and the picks are
// large).
typedef struct Ranking {
    RankArgs args;
    char supernet[SAFE_PATH_MAX];
    Config cfg;
    Space space;
    Lut* lut;
    RankPick picks[RANK_SELECT_MAX];
    RankRow rows[RANK_SELECT_MAX];
    int done;
    RankRow reused[RANK_SELECT_MAX];  // stand-alone results of --standalone-from
    int n_reused;
    int train_images;  // stand-alone training images (fraction of the training split)
    Device dev;
    int dev_open;
    Supernet* sn;
    Evaluator* ev;
    volatile sig_atomic_t* interrupted;
} Ranking;

// The latency table: the target's file, or for `cpu` the run directory's
// measured table beside the checkpoint when there is one, else DIR's own
// (measured on the first run and kept: a table measured again would move
// the selection, and the finished rows would no longer match it).
static int open_rank_target(Ranking* r, HwErr* err) {
    char path[SAFE_PATH_MAX];
    if (r->cfg.target.kind == TARGET_FILE) return (r->lut = target_open(&r->cfg.target, &r->space, 0, 0, err)) ? 0 : -1;
    if (run_dir_beside(path, sizeof path, r->supernet, RUN_TARGET_CPU, err) < 0) return -1;
    if (access(path, F_OK) != 0 && run_dir_file(path, sizeof path, r->args.out, RUN_TARGET_CPU, err) < 0) return -1;
    if (access(path, F_OK) == 0) return (r->lut = lut_load(path, err)) ? 0 : -1;
    if (!(r->lut = target_open(&r->cfg.target, &r->space, r->cfg.train.threads, 0, err))) return -1;
    snprintf(r->lut->source, sizeof r->lut->source, "hwnas bench ranking (latency profile of %s)", r->space.name);
    return lut_write(r->lut, path, err);
}

// CRC-32 of a whole file, read in pieces (a supernet may be large).
static int file_crc32(const char* path, unsigned long* crc, long long* bytes, HwErr* err) {
    FILE* fp = fopen(path, "rb");
    if (!fp) return hw_bad_input(err, path, 0, "cannot read: %s", strerror(errno));
    unsigned char buf[65536];
    size_t n;
    *crc = crc32(0L, Z_NULL, 0), *bytes = 0;
    while ((n = fread(buf, 1, sizeof buf, fp)) > 0) *crc = crc32(*crc, buf, (uInt)n), *bytes += (long long)n;
    int bad = ferror(fp);
    fclose(fp);
    return bad ? hw_runtime(err, path, 0, "read error") : 0;
}

#define RANK_KEY_FILE "ranking-key.txt"

// Settings text on one line, for an error message: "a: 1; b: 2".
static void one_line(char* text) {
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n') text[--n] = 0;
    for (char* p = text; *p; p++)
        if (*p == '\n') *p = ';';
}

// The stand-alone budget, the last lines of ranking-key.txt.
static int budget_text(const Ranking* r, char* out, size_t cap, HwErr* err) {
    int w = snprintf(out, cap, "subnets: %d\nepochs: %d\ntrain_fraction: %.17g\n", r->args.n, r->args.epochs,
                     r->args.fraction);
    return w > 0 && (size_t)w < cap ? 0 : hw_runtime(err, NULL, 0, "settings text too long");
}

// What makes two rankings the same ranking, besides the config: the
// supernet's bytes and the budget.
static int settings_text(const Ranking* r, char* out, size_t cap, HwErr* err) {
    unsigned long crc = 0;
    long long bytes = 0;
    if (file_crc32(r->supernet, &crc, &bytes, err) < 0) return -1;
    int w = snprintf(out, cap, "supernet_crc32: %08lx\nsupernet_bytes: %lld\n", crc, bytes);
    return w > 0 && (size_t)w < cap ? budget_text(r, out + w, cap - (size_t)w, err) : hw_runtime(err, NULL, 0, "settings text too long");
}

// First run: saves DIR/config.yaml and DIR/ranking-key.txt. Later runs:
// finished rows are kept only when both match (another supernet, config or
// budget would mix two experiments in one table).
static int check_or_save_settings(const Ranking* r, HwErr* err) {
    char cfg_path[SAFE_PATH_MAX], key_path[SAFE_PATH_MAX], text[1024];
    if (run_dir_file(cfg_path, sizeof cfg_path, r->args.out, RUN_CONFIG, err) < 0 ||
        run_dir_file(key_path, sizeof key_path, r->args.out, RANK_KEY_FILE, err) < 0 ||
        settings_text(r, text, sizeof text, err) < 0)
        return -1;
    if (access(key_path, F_OK) != 0)
        return config_write(&r->cfg, cfg_path, err) < 0 ? -1 : safe_write_whole(key_path, text, strlen(text), err);
    char saved_text[1024] = {0};
    FILE* fp = fopen(key_path, "r");
    size_t got = fp ? fread(saved_text, 1, sizeof saved_text - 1, fp) : 0;
    if (fp) fclose(fp);
    if (strlen(text) != got || memcmp(saved_text, text, got) != 0) {
        one_line(saved_text), one_line(text);
        return hw_bad_input(err, key_path, 0, "this directory holds a ranking of another supernet, -n, --epochs or "
                                              "--train-fraction (found %s; expected %s); use another -o",
                            saved_text, text);
    }
    static const char* const kAll[] = {"data.", "space", "train.", "search.", "finetune.", "target", NULL};
    char changed[512];
    int n = config_file_changed_keys(&r->cfg, cfg_path, kAll, changed, sizeof changed, err);
    return n > 0 ? hw_bad_input(err, cfg_path, 0, "this directory's ranking used other values of %s; use another -o",
                                changed)
                 : n;
}

// --standalone-from DIR2: its stand-alone results, when DIR2 ranked the same
// picks (rank_csv_read checks every row's operators) with the same budget
// (the end of its ranking-key.txt) and the same data, training recipe and
// fine-tuning keys (its config.yaml). The inherited scores stay ours.
static int load_standalone_from(Ranking* r, HwErr* err) {
    const char* dir = r->args.standalone_from;
    char key_path[SAFE_PATH_MAX], cfg_path[SAFE_PATH_MAX], csv[SAFE_PATH_MAX], budget[256], text[1024] = {0};
    if (run_dir_file(key_path, sizeof key_path, dir, RANK_KEY_FILE, err) < 0 ||
        run_dir_file(cfg_path, sizeof cfg_path, dir, RUN_CONFIG, err) < 0 ||
        run_dir_file(csv, sizeof csv, dir, "ranking.csv", err) < 0 || budget_text(r, budget, sizeof budget, err) < 0)
        return -1;
    FILE* fp = fopen(key_path, "r");
    if (!fp) return hw_bad_input(err, key_path, 0, "--standalone-from: cannot read: %s", strerror(errno));
    size_t got = fread(text, 1, sizeof text - 1, fp), want = strlen(budget);
    fclose(fp);
    if (got < want || memcmp(text + got - want, budget, want) != 0) {
        one_line(text), one_line(budget);
        return hw_bad_input(err, key_path, 0, "--standalone-from: another stand-alone budget (found %s; expected it "
                                              "to end with %s)",
                            text, budget);
    }
    static const char* const kRecipe[] = {"data.", "train.", "finetune.", NULL};
    char changed[512];
    int n = config_file_changed_keys(&r->cfg, cfg_path, kRecipe, changed, sizeof changed, err);
    if (n < 0) return -1;
    if (n > 0) return hw_bad_input(err, cfg_path, 0, "--standalone-from: that ranking used other values of %s", changed);
    if (access(csv, F_OK) != 0) return hw_bad_input(err, csv, 0, "--standalone-from: no ranking.csv there");
    r->n_reused = rank_csv_read(csv, &r->space, r->picks, r->args.n, r->reused, err);
    return r->n_reused < 0 ? -1 : 0;
}

// Stand-alone training images: the fraction of the training split, at least
// one batch.
static int count_train_images(Ranking* r, HwErr* err) {
    Dataset* ds = dataset_open(&r->cfg.data, SPLIT_TRAIN, err);
    if (!ds) return -1;
    int total = dataset_size(ds);
    dataset_close(ds);
    r->train_images = (int)lround(r->args.fraction * total);
    if (r->train_images < r->cfg.train.batch)
        return hw_bad_input(err, NULL, 0, "--train-fraction %g: %d of %d training images, expected at least one "
                                          "batch (%d)",
                            r->args.fraction, r->train_images, total, r->cfg.train.batch);
    return 0;
}

// The supernet and the search's evaluator (validation split, BN recalibrated).
static int open_supernet(Ranking* r, HwErr* err) {
    const Config* cfg = &r->cfg;
    TrainState st;
    if (device_open(&r->dev, cfg->train.device, cfg->train.threads, err) < 0) return -1;
    r->dev_open = 1;
    if (!(r->sn = supernet_create(&r->space, r->dev.ops, &r->dev.ctx, cfg->train.batch, err)) ||
        checkpoint_load(r->supernet, r->sn, &st, NULL, err) < 0)
        return -1;
    EvalOptions valid = eval_options(cfg, SPLIT_VALID, cfg->search.bn_images, cfg->search.val_images);
    return (r->ev = evaluator_create(r->sn, &valid, err)) ? 0 : -1;
}

static void close_ranking(Ranking* r) {
    evaluator_destroy(r->ev);
    supernet_destroy(r->sn);
    if (r->dev_open) device_close(&r->dev);
    lut_free(r->lut);
}

// Trains subnet k from scratch in DIR/subnet-K (its checkpoint lets a killed
// training continue) and measures it on the validation split. The training
// images are the first train_images of the training split (holdout 0 and
// limit_train = train_images, which can never reach the holdout at the end).
static int train_standalone(Ranking* r, int k, RankRow* row, int* interrupted, HwErr* err) {
    const Config* cfg = &r->cfg;
    char dir[SAFE_PATH_MAX], ckpt[SAFE_PATH_MAX];
    if (safe_path(dir, sizeof dir, err, "%s/subnet-%d", r->args.out, k + 1) < 0 || make_dirs(dir, err) < 0 ||
        run_dir_file(ckpt, sizeof ckpt, dir, "subnet.ckpt", err) < 0)
        return -1;
    Space one;
    space_restrict(&r->space, r->picks[k].ops, &one);
    int zeros[SPACE_MAX_LAYERS] = {0};
    Supernet* sub = supernet_create(&one, r->dev.ops, &r->dev.ctx, cfg->train.batch, err);
    if (!sub || supernet_init_params(sub, cfg->train.seed, err) < 0) {
        supernet_destroy(sub);
        return -1;
    }
    DataSection data = cfg->data;
    data.holdout = 0, data.limit_train = r->train_images;
    TrainJob job = {0};
    job.train = &cfg->train, job.data = &data, job.config_path = cfg->path;
    job.run_dir = dir, job.checkpoint_name = "subnet.ckpt", job.csv_name = "train.csv";
    job.resume = access(ckpt, F_OK) == 0;
    job.epochs = r->args.epochs, job.lr = cfg->finetune.retrain_lr;
    job.fixed_path = zeros, job.interrupted = r->interrupted;
    TrainResult res;
    int rc = train_run(sub, &job, &res, err);
    *interrupted = rc == 0 && res.interrupted;
    if (rc == 0 && !*interrupted) {
        row->train_seconds = res.seconds;
        EvalOptions eo = eval_options(cfg, SPLIT_VALID, 0, cfg->search.val_images);
        Evaluator* ev = evaluator_create(sub, &eo, err);
        double top5;
        int count;
        rc = ev ? evaluator_accuracy(ev, zeros, &row->standalone_top1, &top5, &count, err) : -1;
        evaluator_destroy(ev);
    }
    supernet_destroy(sub);
    return rc;
}

// Both scores of subnet k; *interrupted when Ctrl-C stopped the training.
static int rank_one(Ranking* r, int k, int* interrupted, HwErr* err) {
    RankRow* row = &r->rows[k];
    double top5;
    if (evaluator_score(r->ev, r->picks[k].ops, &row->inherited_top1, &top5, err) < 0) return -1;
    fprintf(stderr, "hwnas bench ranking: subnet %d/%d: %.3f ms predicted, inherited top-1 %.4f%s\n", k + 1,
            r->args.n, r->picks[k].latency_ms, row->inherited_top1,
            k < r->n_reused ? "" : "; training it stand-alone");
    if (k < r->n_reused) {
        row->standalone_top1 = r->reused[k].standalone_top1, row->train_seconds = r->reused[k].train_seconds;
        fprintf(stderr, "hwnas bench ranking: subnet %d/%d: stand-alone top-1 %.4f taken from %s\n", k + 1,
                r->args.n, row->standalone_top1, r->args.standalone_from);
        return 0;
    }
    if (train_standalone(r, k, row, interrupted, err) < 0 || *interrupted) return *interrupted ? 0 : -1;
    fprintf(stderr, "hwnas bench ranking: subnet %d/%d: stand-alone top-1 %.4f after %.1f s of training\n", k + 1,
            r->args.n, row->standalone_top1, row->train_seconds);
    return 0;
}

typedef struct RankSummary {
    double tau, rho;
    RankTopK top;
} RankSummary;

static void summarize(const Ranking* r, RankSummary* s) {
    double inherited[RANK_SELECT_MAX], standalone[RANK_SELECT_MAX];
    for (int k = 0; k < r->args.n; k++)
        inherited[k] = r->rows[k].inherited_top1, standalone[k] = r->rows[k].standalone_top1;
    s->tau = rank_kendall_tau_b(inherited, standalone, r->args.n);
    s->rho = rank_spearman_rho(inherited, standalone, r->args.n);
    rank_top_k(inherited, standalone, r->args.n, RANK_TOP_K, &s->top);
}

static void write_md_rows(SafeFile* md, const Ranking* r, HwErr* err) {
    char ops[LIMIT_CSV_ROW_BYTES];
    safe_file_printf(md, "| # | predicted ms | inherited top-1 | stand-alone top-1 | train s | architecture |\n"
                         "|---|---|---|---|---|---|\n");
    for (int k = 0; k < r->args.n; k++) {
        if (rank_ops_text(&r->space, r->picks[k].ops, ops, sizeof ops, err) < 0) ops[0] = 0;
        safe_file_printf(md, "| %d | %.3f | %.4f | %.4f | %.1f | %s |\n", k + 1, r->picks[k].latency_ms,
                         r->rows[k].inherited_top1, r->rows[k].standalone_top1, r->rows[k].train_seconds, ops);
    }
}

static int write_md(const Ranking* r, const RankSummary* s, const char* path, HwErr* err) {
    SafeFile md;
    if (safe_file_begin(&md, path, err) < 0) return -1;
    safe_file_printf(&md, "# Supernet ranking\n\nSupernet `%s`, space `%s`, target `%s`, seed %llu. %d subnets at "
                          "evenly spaced predicted latencies from the fastest to the slowest architecture.\n\n",
                     r->supernet, r->space.name, config_target_name(&r->cfg.target),
                     (unsigned long long)r->cfg.train.seed, r->args.n);
    safe_file_printf(&md, "- inherited: supernet weights, BN recalibrated on %d training images (the search's "
                          "evaluator)\n- stand-alone: trained from scratch, %d epochs on %d training images "
                          "(fraction %g), lr %g\n- both: top-1 on the validation split (data.holdout), %d images "
                          "(search.val_images, 0 = all)\n\n",
                     r->cfg.search.bn_images, r->args.epochs, r->train_images, r->args.fraction,
                     (double)r->cfg.finetune.retrain_lr, r->cfg.search.val_images);
    safe_file_printf(&md, "| statistic | value |\n|---|---|\n| Kendall tau-b | %.4f |\n| Spearman rho | %.4f |\n"
                          "| stand-alone best (#%d) in the supernet's top %d | %s |\n| top-%d overlap | %d of %d |\n\n",
                     s->tau, s->rho, s->top.actual_best + 1, RANK_TOP_K, s->top.best_in_top_k ? "yes" : "no",
                     RANK_TOP_K, s->top.overlap, RANK_TOP_K);
    if (r->args.n <= RANK_TOP_K)
        safe_file_printf(&md, "With %d subnets the top-%d rows say nothing.\n\n", r->args.n, RANK_TOP_K);
    safe_file_printf(&md, "train s: wall time of the training steps run by the process that finished the subnet "
                          "(after a restart, those since the restart).\n\n");
    if (r->n_reused > 0)
        safe_file_printf(&md, "Stand-alone results of subnets 1-%d taken from `%s` (the same picks, recipe and "
                              "budget; another supernet).\n\n",
                         r->n_reused, r->args.standalone_from);
    write_md_rows(&md, r, err);
    safe_file_printf(&md, "\n![inherited vs stand-alone top-1](ranking.svg)\n");
    return safe_file_commit(&md, err);
}

static int write_svg(const Ranking* r, const char* path, HwErr* err) {
    double x[RANK_SELECT_MAX], y[RANK_SELECT_MAX];
    for (int k = 0; k < r->args.n; k++) x[k] = r->rows[k].inherited_top1, y[k] = r->rows[k].standalone_top1;
    SvgSeries dots = {x, y, r->args.n, "#1f77b4", "subnet", 0, 4};
    return svg_plot(path, "Stand-alone vs inherited top-1 (validation)", "inherited top-1 (supernet)",
                    "stand-alone top-1", &dots, 1, err);
}

static int write_report(const Ranking* r, HwErr* err) {
    RankSummary s;
    summarize(r, &s);
    char md[SAFE_PATH_MAX], svg[SAFE_PATH_MAX];
    if (run_dir_file(md, sizeof md, r->args.out, "ranking.md", err) < 0 ||
        run_dir_file(svg, sizeof svg, r->args.out, "ranking.svg", err) < 0 || write_md(r, &s, md, err) < 0 ||
        write_svg(r, svg, err) < 0)
        return -1;
    printf("ranking subnets=%d kendall_tau_b=%.4f spearman_rho=%.4f best_in_top%d=%s top%d_overlap=%d\n", r->args.n,
           s.tau, s.rho, RANK_TOP_K, s.top.best_in_top_k ? "yes" : "no", RANK_TOP_K, s.top.overlap);
    printf("table: %s\n", md);
    return 0;
}

// Everything before the first subnet: inputs, selection, the output
// directory and the rows kept from an earlier run.
static int prepare(Ranking* r, HwErr* err) {
    const RankArgs* a = &r->args;
    char csv[SAFE_PATH_MAX];
    if (resolve_supernet(a->supernet, r->supernet, sizeof r->supernet, err) < 0 ||
        load_rank_config(a, r->supernet, &r->cfg, err) < 0 || space_load(&r->space, r->cfg.space, err) < 0 ||
        batch_feed_check_data(&r->cfg.data, r->cfg.path, &r->space, err) < 0 || count_train_images(r, err) < 0 ||
        make_dirs(a->out, err) < 0 || open_rank_target(r, err) < 0 ||
        rank_select_stratified(&r->space, r->lut, a->n, r->cfg.train.seed, r->picks, err) < 0 ||
        check_or_save_settings(r, err) < 0 ||
        run_dir_file(csv, sizeof csv, a->out, "ranking.csv", err) < 0)
        return -1;
    if ((r->done = rank_csv_read(csv, &r->space, r->picks, a->n, r->rows, err)) < 0) return -1;
    if (a->standalone_from && load_standalone_from(r, err) < 0) return -1;
    for (int k = 0; k < r->done; k++)
        fprintf(stderr, "hwnas bench ranking: subnet %d/%d: kept from %s (stand-alone top-1 %.4f)\n", k + 1, a->n,
                csv, r->rows[k].standalone_top1);
    return open_supernet(r, err);
}

// Scores the subnets not done yet, rewriting ranking.csv after each.
static int rank_remaining(Ranking* r, int* interrupted, HwErr* err) {
    char csv[SAFE_PATH_MAX];
    if (run_dir_file(csv, sizeof csv, r->args.out, "ranking.csv", err) < 0) return -1;
    *interrupted = 0;
    for (int k = r->done; k < r->args.n; k++) {
        if (*r->interrupted) return *interrupted = 1, 0;
        if (rank_one(r, k, interrupted, err) < 0) return -1;
        if (*interrupted) return 0;
        r->done = k + 1;
        if (rank_csv_write(csv, &r->space, r->picks, r->rows, r->done, err) < 0) return -1;
    }
    return 0;
}

int bench_ranking_main(int argc, char** argv) {
    Ranking* r = calloc(1, sizeof *r);
    if (!r) return fputs("hwnas: error: out of memory\n", stderr), 1;
    int parsed = parse_rank_args(argc, argv, &r->args);
    if (parsed) {
        free(r);
        return parsed == 1 ? 0 : parsed;
    }
    HwErr err = {0};
    int rc = 0, interrupted = 0;
    r->interrupted = install_interrupt_handler();
    if (prepare(r, &err) < 0 || rank_remaining(r, &interrupted, &err) < 0) rc = cli_fail(&err);
    else if (interrupted) {
        fprintf(stderr, "hwnas bench ranking: interrupted after %d of %d subnets; run the same command again to "
                        "continue\n",
                r->done, r->args.n);
        rc = 130;
    } else if (write_report(r, &err) < 0) {
        rc = cli_fail(&err);
    }
    close_ranking(r);
    free(r);
    return rc;
}
