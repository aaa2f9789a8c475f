// hwnas: hardware-aware neural architecture search. The CLI wires the parts.
#include <stdio.h>
#include <string.h>

#include "dist/comm.h"
#include "src/cli.h"

static void usage(FILE* fp) {
    fprintf(fp,
            "usage: hwnas <command> [options]\n"
            "\n"
            "commands:\n"
            "  run       the whole pipeline (default config configs/fmnist.yaml)\n"
            "  train     supernet training with single-path uniform sampling\n"
            "  space     hardware-specific search space for a target\n"
            "  search    evolutionary search under a latency limit\n"
            "  extract   standalone subnet weights (safetensors)\n"
            "  finetune  train a fixed architecture from extracted weights\n"
            "  retrain   train a fixed architecture from scratch\n"
            "  eval      top-1/top-5 of an architecture and its weights\n"
            "  export    an architecture and its weights as an ONNX model\n"
            "  latency   profile | predict | check | import\n"
            "  bench     speed measurements\n"
            "\n"
            "`hwnas <command> --help` prints the options of a command.\n"
            "train, finetune and retrain run data parallel under mpirun (one process per\n"
            "GPU or machine; MPI, or NCCL with --device cuda).\n");
}

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char* cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    const CliCommand* c = cli_find(cmd);
    if (!c) {
        fprintf(stderr, "hwnas: error: unknown command '%s' (see hwnas --help)\n", cmd);
        return 2;
    }
    // Data parallel covers the training commands; the others would only run
    // the same work several times and race on their files.
    int size, rank, local_rank;
    comm_launch_layout(&size, &rank, &local_rank);
    if (size > 1 && strcmp(cmd, "train") && strcmp(cmd, "finetune") && strcmp(cmd, "retrain")) {
        if (rank == 0)
            fprintf(stderr, "hwnas: error: launched as %d processes: only train, finetune and retrain run data "
                            "parallel; run '%s' as one process\n", size, cmd);
        return 2;
    }
    return c->run(argc - 1, argv + 1);
}
