// Every limit that a file's contents cannot push hwnas past, in one place.
//
// hwnas reads configs, spaces, architectures and latency tables (YAML/JSON),
// safetensors, checkpoints, gzip IDX, images, image-folder caches and search
// CSVs that a user may get from anywhere. None of them may make it allocate
// or loop without bound: each limit below is checked before the memory or
// the work it bounds, and going past it is an error naming the file and the
// place (line, or byte offset where the format has no lines) and the limit.
// The right-hand comment says where each is enforced. The older names some
// modules use (YAML_MAX_DEPTH, SPACE_MAX_LAYERS, ...) are defined from these.
//
// Each is far above what a real file of its kind holds, and each has a test
// (tests/test_limits.cc, or the suite named) with a file that goes past it.
#ifndef HWNAS_LIMITS_H
#define HWNAS_LIMITS_H

// ------------------------------------------------------------ paths
// Longest path an output may have (Linux's PATH_MAX, terminator included);
// a longer one is an error, never a cut-off name.        common/safe_file.c
#define LIMIT_PATH_BYTES 4096

// ------------------------------------------------------------ YAML and JSON (libyaml)
// Configs, spaces, architectures, latency tables, imports.  common/yaml_tree.c
#define LIMIT_YAML_FILE_BYTES (64L << 20)  // file size, checked before reading (Yaml.RejectsFilesOver64MiB)
#define LIMIT_YAML_DEPTH 64                // nesting of sequences and mappings (Yaml.LimitsNestingDepth)
// Nodes (scalars, sequences, mappings) in one document: a latency table of
// the largest space has ~10^5 entries; 64 MiB of `[0,0,...]` would make 3 x
// 10^7 nodes (about 2 GB of tree) without this cap.
#define LIMIT_YAML_NODES (1L << 22)

// ------------------------------------------------------------ search spaces      supernet/space.c
#define LIMIT_SPACE_LAYERS 64  // layers of a space or architecture (arrays are sized by it)
#define LIMIT_LAYER_OPS 32     // candidate operators of one layer (= the operator pool)
// Expansion ratio of an mb_k*_e* operator (1..8): OFA/MobileNetV3 use 1, 3, 4
// and 6; past 8 the 1x1 expand of a wide layer is no longer a mobile block.
// Names beyond it are unknown operators.           supernet/operator.c
#define LIMIT_MB_EXPAND 8

// ------------------------------------------------------------ weights and checkpoints
// safetensors JSON header (the file's first 8 bytes declare it; a header
// longer than the file is refused before any allocation).  supernet/safetensors.c
#define LIMIT_SAFETENSORS_HEADER_BYTES (100L << 20)
// Tensors listed in that header: a subnet has at most 64 layers x 40 tensors.
#define LIMIT_SAFETENSORS_TENSORS 100000
// A checkpoint, read whole (the size is checked before reading).  supernet/checkpoint.c
#define LIMIT_CHECKPOINT_BYTES (1LL << 36)

// ------------------------------------------------------------ data                data/
// Images or labels an IDX file may claim (its header's count); what is
// allocated is what the file really holds, grown as it is read.  data/idx.c
#define LIMIT_IDX_ITEMS 2147483647
#define LIMIT_IDX_SIDE 4096  // rows or columns of one IDX image
// Pixels of one decoded image (8192 x 8192); more, or more pixels per byte
// of file than any codec can produce, and the file is skipped as corrupt
// before a pixel buffer exists.  data/image_decode.c
#define LIMIT_IMAGE_PIXELS (1 << 26)
#define LIMIT_IMAGE_FILE_BYTES (1 << 28)  // an encoded image file, read whole
// Image folders: directory depth below a class, and directories walked
// under one class (each once: symlink loops cost one visit).  data/imagefolder.c
#define LIMIT_FOLDER_DEPTH 16
#define LIMIT_FOLDER_DIRS_PER_CLASS (1 << 20)

// ------------------------------------------------------------ search and latency tables
// search.csv, read back to resume a search: its size, its rows (as many as
// one search can evaluate) and one row's length.  search/search_csv.c
#define LIMIT_SEARCH_CSV_BYTES (1LL << 31)
#define LIMIT_SEARCH_CSV_ROWS 10000000
#define LIMIT_CSV_ROW_BYTES 8192
// A per-block timing CSV (`latency import --format csv`): its size; its rows
// are bounded by the blocks of the space (one each).          search/lut_csv.c
// (LatencyOrt.CsvOver64MiBIsRefusedBeforeReading)
#define LIMIT_LATENCY_CSV_BYTES (64L << 20)
// Any dimension, channel or class count in a latency table key.  search/lut.c
#define LIMIT_LUT_DIM 1000000

#endif
