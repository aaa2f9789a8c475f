#include "src/cli.h"
#include "src/commands.h"

#include <string.h>

static const CliCommand kCommands[] = {
    {"run", cmd_run},
    {"train", cmd_train},
    {"bench", cmd_bench},
    {"eval", cmd_eval},
    {"export", cmd_export},
    {"extract", cmd_extract},
    {"finetune", cmd_finetune},
    {"retrain", cmd_retrain},
    {"latency", cmd_latency},
    {"space", cmd_space},
    {"search", cmd_search},
    {NULL, NULL},
};

const CliCommand* cli_find(const char* name) {
    for (const CliCommand* c = kCommands; c->name; c++)
        if (!strcmp(c->name, name)) return c;
    return NULL;
}
