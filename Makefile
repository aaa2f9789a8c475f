# hwnas build. `make` builds build/hwnas (with the CUDA backend when nvcc is
# found); `make test` installs missing packages, generates the PyTorch
# references and runs every test; `make test-asan` runs them under ASan+UBSan.
#
#   make SAN=1        sanitizer build in build-asan/ (CPU only)
#   make CUDA=0       CPU-only build even when nvcc is present
#   make EMU=1        the CUDA backend built by g++ against the CUDA emulator
#                     of tests/cuda_emu/ (no GPU, no toolkit), in build-emu/

SAN ?= 0
EMU ?= 0
ifeq ($(EMU),1)
  BUILD ?= build-emu
  OPT := -O2 -march=native -g
  CUDA := 1
else ifeq ($(SAN),1)
  BUILD ?= build-asan
  OPT := -O1 -g -march=native -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
  CUDA := 0
else
  BUILD ?= build
  OPT := -O3 -march=native -g
endif

NVCC ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
ifeq ($(NVCC),)
  CUDA ?= 0
else
  CUDA ?= 1
endif
CUDA_HOME ?= /usr/local/cuda

CC := gcc
CXX := g++
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-psabi
CPPFLAGS := -I. -I/usr/include/stb -MMD -MP -DHWNAS_CUDA=$(CUDA)
CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE $(OPT) $(WARN) -fopenmp
CXXFLAGS := -std=c++17 $(OPT) $(WARN) -fopenmp
LDLIBS := -lopenblas -lyaml -lturbojpeg -lstb -lz -lm -lpthread
LDFLAGS := $(OPT) -fopenmp

# Every .cu file compiles with warnings as errors for sm_80 and sm_90.
NVCCFLAGS := -O3 -std=c++17 -I. -DHWNAS_CUDA=1 \
  -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
  --Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-fopenmp

# Data parallel (dist/): MPI when mpicc is found (Debian's libopenmpi-dev),
# and NCCL for CUDA builds when nccl.h is there too.
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifeq ($(MPICC),)
  MPI ?= 0
else
  MPI ?= 1
endif
NCCL := 0
ifeq ($(MPI),1)
  CPPFLAGS += -DHWNAS_MPI=1 $(shell $(MPICC) --showme:compile)
  LDLIBS += $(shell $(MPICC) --showme:link)
  ifeq ($(CUDA),1)
    ifneq ($(wildcard $(CUDA_HOME)/include/nccl.h),)
      NCCL := 1
    endif
    ifeq ($(EMU),1)
      NCCL := 1
    endif
  endif
else
  CPPFLAGS += -DHWNAS_MPI=0
endif
CPPFLAGS += -DHWNAS_NCCL=$(NCCL)

LIB_C := $(wildcard common/*.c kernels/*.c kernels/cpu/*.c supernet/*.c search/*.c data/*.c dist/*.c)
CU_SRC := $(wildcard kernels/cuda/*.cu)
# The emulator: its runtime, cuBLAS, cuDNN and NCCL in one archive, and
# g++ in place of nvcc for every .cu file (warnings still errors).
EMU_SRC := $(wildcard tests/cuda_emu/emu_*.cc)
EMU_LIB := $(BUILD)/libcudaemu.a
EMU_CXXFLAGS := -std=c++17 $(OPT) $(WARN) -fopenmp -Itests/cuda_emu/include -Itests/cuda_emu
ifeq ($(NCCL),1)
  CU_SRC += dist/comm_nccl.cu
  ifneq ($(EMU),1)
    LDLIBS += -lnccl
  endif
endif
ifeq ($(CUDA),1)
  LIB_C := $(filter-out kernels/cuda_stub.c,$(LIB_C))
  LIB_CU_OBJ := $(CU_SRC:%.cu=$(BUILD)/%.o)
  ifeq ($(EMU),1)
    LIB_CU_OBJ += $(EMU_SRC:%.cc=$(BUILD)/%.o)
    LDLIBS += -lrt -lstdc++
  else
    LDLIBS += -L$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
  endif
else
  LIB_CU_OBJ :=
endif
LIB_OBJ := $(LIB_C:%.c=$(BUILD)/%.o) $(LIB_CU_OBJ)
LIB := $(BUILD)/libhwnas.a

MAIN_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/*.c))
TEST_CC := $(filter-out tests/gpu_parity.cc,$(wildcard tests/*.cc))
TEST_OBJ := $(TEST_CC:%.cc=$(BUILD)/%.o) $(BUILD)/tests/ref_file.o
REF_STAMP := build/ref/.stamp
PYTHON := /usr/bin/python3

.PHONY: all fuzz test test-asan test-gpu test-cuda-emu gpu-parity-build dev-cuda deps ref bench-ops clean
all: $(BUILD)/hwnas

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -c $< -o $@

ifeq ($(EMU),1)
$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(EMU_CXXFLAGS) -x c++ -c $< -o $@

$(BUILD)/tests/cuda_emu/%.o: tests/cuda_emu/%.cc
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(EMU_CXXFLAGS) -c $< -o $@
else
$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) -MMD -MP -c $< -o $@
endif

$(LIB): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/hwnas: $(MAIN_OBJ) $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# src/svg.o: its tick chooser is unit-tested (the rest of src/ only wires commands).
$(BUILD)/hwnas_tests: $(TEST_OBJ) $(BUILD)/src/svg.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ -lgtest -pthread $(LDLIBS)

# Run by tests/test_data_parallel.cc under mpirun -np 2.
$(BUILD)/tests/dp_check: $(BUILD)/tests/dp_check.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

deps:
	@bash tools/install-deps.sh

# The main job: the whole pipeline on Fashion-MNIST (ARGS=--quick for minutes).
run: deps
	@$(MAKE) --no-print-directory $(BUILD)/hwnas
	./$(BUILD)/hwnas run -c configs/fmnist.yaml $(ARGS)

# The PyTorch reference cases (tools/torch_reference.py), shared by all builds.
$(REF_STAMP): tools/torch_reference.py tools/refio.py $(wildcard tools/ref_cases/*.py)
	@mkdir -p build/ref
	$(PYTHON) tools/torch_reference.py --out build/ref
	@touch $@
ref: $(REF_STAMP)

test: deps
	@$(MAKE) --no-print-directory ref $(BUILD)/hwnas $(BUILD)/hwnas_tests $(BUILD)/tests/dp_check
	HWNAS_REF_DIR=build/ref HWNAS_BIN=$(BUILD)/hwnas HWNAS_DP_CHECK=$(BUILD)/tests/dp_check ./$(BUILD)/hwnas_tests

test-asan: deps
	@$(MAKE) --no-print-directory SAN=1 ref build-asan/hwnas build-asan/hwnas_tests build-asan/tests/dp_check
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  HWNAS_REF_DIR=build/ref HWNAS_BIN=build-asan/hwnas HWNAS_DP_CHECK=build-asan/tests/dp_check \
	  ./build-asan/hwnas_tests

# GPU parity: builds tests/gpu_parity (every CUDA op and a training step
# against the CPU backend) and runs it; it exits 77 when no GPU is present.
GPU_PARITY := $(BUILD)/tests/gpu_parity
$(GPU_PARITY): $(BUILD)/tests/gpu_parity.o $(BUILD)/tests/test_util.o $(BUILD)/tests/train_reference.o \
               $(BUILD)/tests/ref_file.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ -lgtest -pthread $(LDLIBS)
gpu-parity-build:
	@test "$(CUDA)" = 1 || { echo "make test-gpu needs nvcc (CUDA toolkit)"; exit 2; }
	@$(MAKE) --no-print-directory $(GPU_PARITY)
test-gpu: gpu-parity-build
	./$(GPU_PARITY)

# GPU check kit (tools/gpu-check.sh): nvcc build, test-gpu, the dev/cuda
# tools, bench train on GPU and CPU, hwnas run --quick on the GPU (about 8
# minutes on one H100); writes $(GPU_CHECK_OUT)/summary.md; exits 77 without a GPU.
GPU_CHECK_OUT ?= runs/gpu-check
.PHONY: gpu-check
gpu-check:
	bash tools/gpu-check.sh $(GPU_CHECK_OUT)

# dev/cuda kernel experiments (as in llm.c): compile only, with the library's
# nvcc flags (-Werror, sm_80 and sm_90); they run only on a GPU.
DEV_CUDA_BIN := $(patsubst dev/cuda/%.cu,$(BUILD)/dev/cuda/%,$(wildcard dev/cuda/*.cu))
ifeq ($(EMU),1)
$(BUILD)/dev/cuda/%: dev/cuda/%.cu dev/cuda/common.h $(LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(EMU_CXXFLAGS) -x c++ $< -x none $(LIB) -o $@ $(LDFLAGS) $(LDLIBS)
else
$(BUILD)/dev/cuda/%: dev/cuda/%.cu dev/cuda/common.h
	@mkdir -p $(dir $@)
	$(NVCC) $(NVCCFLAGS) $< -o $@
endif
dev-cuda:
	@test "$(CUDA)" = 1 || { echo "make dev-cuda needs nvcc (CUDA toolkit)"; exit 2; }
	@$(MAKE) --no-print-directory $(DEV_CUDA_BIN)

# The whole CUDA backend under the emulator of tests/cuda_emu (no GPU needed):
# gpu_parity, the dev/cuda validations, the emulator's own tests and the
# 2-rank NCCL check; ends with "N passed, M failed".
EMU_TESTS := build-emu/tests/gpu_parity build-emu/tests/dp_check build-emu/hwnas \
             build-emu/tests/test_emu_core build-emu/tests/test_emu_libs build-emu/tests/test_emu_nccl \
             $(patsubst dev/cuda/%.cu,build-emu/dev/cuda/%,$(wildcard dev/cuda/*.cu))
test-cuda-emu: deps
	@$(MAKE) --no-print-directory ref
	@$(MAKE) --no-print-directory EMU=1 $(EMU_TESTS)
	bash tests/cuda_emu/run_tests.sh build-emu

$(BUILD)/tests/test_emu_%: $(BUILD)/tests/cuda_emu/test_emu_%.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ -lgtest -pthread $(LDLIBS)

# libFuzzer targets of every parser (tests/fuzz/fuzz_*.c), built with clang,
# AddressSanitizer and UBSan in build-fuzz/ (CPU backend), each run for
# FUZZ_SECONDS from a seed corpus made from the project's own files.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(filter-out tests/fuzz/make_seeds.c,$(wildcard tests/fuzz/*.c)))
FUZZ_CFLAGS := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -D_GNU_SOURCE -O1 -g -march=native -Wno-psabi -fopenmp \
  -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer \
  -I. -I/usr/include/stb -DHWNAS_CUDA=0 -DHWNAS_MPI=0 -DHWNAS_NCCL=0
FUZZ_LIB_C := $(filter-out kernels/cuda_stub.c,$(filter-out dist/%,$(LIB_C))) kernels/cuda_stub.c dist/comm.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_C:%.c=build-fuzz/lib/%.o)
FUZZ_LIBS := -lopenblas -lyaml -lturbojpeg -lstb -lz -lm -lpthread

build-fuzz/lib/%.o: %.c
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

build-fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_input.h $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJ) -o $@ $(FUZZ_LIBS)

build-fuzz/make_seeds: tests/fuzz/make_seeds.c $(FUZZ_LIB_OBJ)
	clang $(FUZZ_CFLAGS) $< $(FUZZ_LIB_OBJ) -o $@ $(FUZZ_LIBS)

build-fuzz/seeds/.stamp: build-fuzz/make_seeds tests/fuzz/seeds.sh
	rm -rf build-fuzz/seeds
	bash tests/fuzz/seeds.sh build-fuzz/seeds
	./build-fuzz/make_seeds build-fuzz/seeds
	@touch $@

fuzz: deps
	@$(MAKE) --no-print-directory $(addprefix build-fuzz/,$(FUZZ_TARGETS)) build-fuzz/seeds/.stamp
	bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

bench-ops: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench_ops
	$(PYTHON) bench/bench_ops.py --bin $(BUILD)/bench_ops

$(BUILD)/bench_ops: $(BUILD)/bench/bench_ops.o $(LIB)
	$(CXX) $(LDFLAGS) $^ -o $@ $(LDLIBS)

clean:
	rm -rf build build-asan build-emu build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
