// Entry points of the hwnas subcommands (argv[0] is the command name).
#ifndef HWNAS_COMMANDS_H
#define HWNAS_COMMANDS_H

int cmd_train(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_extract(int argc, char** argv);
int cmd_export(int argc, char** argv);
int cmd_finetune(int argc, char** argv);
int cmd_retrain(int argc, char** argv);
int cmd_latency(int argc, char** argv);
// export-blocks, import --format csv, profile/check --runtime onnxruntime (src/cmd_latency_ort.c).
int latency_ort_wants(int argc, char** argv);
int cmd_latency_ort(int argc, char** argv);
int cmd_space(int argc, char** argv);
int cmd_search(int argc, char** argv);
int cmd_run(int argc, char** argv);
int bench_pipeline_main(int argc, char** argv);
int bench_ranking_main(int argc, char** argv);
int bench_curve_main(int argc, char** argv);

#endif
