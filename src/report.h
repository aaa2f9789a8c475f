// report.md of a run and the two plots it shows (pareto.svg, train.svg).
#ifndef HWNAS_REPORT_H
#define HWNAS_REPORT_H

#include "common/error.h"
#include "src/pipeline.h"
#include "supernet/space.h"

typedef struct ReportInput {
    const char* dir;            // the run directory: its CSV files are read, the report written there
    const Space* space;         // the space searched
    const char* target;         // as the config names it ("cpu" or a table file)
    const char* target_device;  // the latency table's device line
    PipelineMode mode;
    int finetune;               // the test numbers are after fine-tuning
    const PipelineResult* res;
} ReportInput;

// Every write is checked: a report or plot that cannot be written fails the
// run (exit 1), naming the file. 0 or -1 with err.
int report_write(const ReportInput* in, HwErr* err);

#endif
