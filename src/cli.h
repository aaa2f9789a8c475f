// Subcommand table of the hwnas binary.
#ifndef HWNAS_CLI_H
#define HWNAS_CLI_H

typedef struct CliCommand {
    const char* name;
    int (*run)(int argc, char** argv);  // argv[0] is the command name
} CliCommand;

const CliCommand* cli_find(const char* name);

#endif
