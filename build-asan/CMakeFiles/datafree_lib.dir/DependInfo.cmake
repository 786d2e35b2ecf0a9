
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/nn/blas.c" "CMakeFiles/datafree_lib.dir/nn/blas.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/blas.c.o.d"
  "/work/main/nn/core.c" "CMakeFiles/datafree_lib.dir/nn/core.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/core.c.o.d"
  "/work/main/nn/data/cifar.c" "CMakeFiles/datafree_lib.dir/nn/data/cifar.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/data/cifar.c.o.d"
  "/work/main/nn/data/dataset.c" "CMakeFiles/datafree_lib.dir/nn/data/dataset.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/data/dataset.c.o.d"
  "/work/main/nn/data/folder.c" "CMakeFiles/datafree_lib.dir/nn/data/folder.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/data/folder.c.o.d"
  "/work/main/nn/data/idx.c" "CMakeFiles/datafree_lib.dir/nn/data/idx.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/data/idx.c.o.d"
  "/work/main/nn/evaluate.c" "CMakeFiles/datafree_lib.dir/nn/evaluate.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/evaluate.c.o.d"
  "/work/main/nn/graph.c" "CMakeFiles/datafree_lib.dir/nn/graph.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/graph.c.o.d"
  "/work/main/nn/graph_io.c" "CMakeFiles/datafree_lib.dir/nn/graph_io.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/graph_io.c.o.d"
  "/work/main/nn/io.c" "CMakeFiles/datafree_lib.dir/nn/io.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/io.c.o.d"
  "/work/main/nn/json.c" "CMakeFiles/datafree_lib.dir/nn/json.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/json.c.o.d"
  "/work/main/nn/ops/act.c" "CMakeFiles/datafree_lib.dir/nn/ops/act.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/act.c.o.d"
  "/work/main/nn/ops/arith.c" "CMakeFiles/datafree_lib.dir/nn/ops/arith.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/arith.c.o.d"
  "/work/main/nn/ops/conv.c" "CMakeFiles/datafree_lib.dir/nn/ops/conv.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/conv.c.o.d"
  "/work/main/nn/ops/conv_direct.c" "CMakeFiles/datafree_lib.dir/nn/ops/conv_direct.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/conv_direct.c.o.d"
  "/work/main/nn/ops/dense.c" "CMakeFiles/datafree_lib.dir/nn/ops/dense.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/dense.c.o.d"
  "/work/main/nn/ops/loss.c" "CMakeFiles/datafree_lib.dir/nn/ops/loss.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/loss.c.o.d"
  "/work/main/nn/ops/norm.c" "CMakeFiles/datafree_lib.dir/nn/ops/norm.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/norm.c.o.d"
  "/work/main/nn/ops/pool.c" "CMakeFiles/datafree_lib.dir/nn/ops/pool.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/ops/pool.c.o.d"
  "/work/main/nn/optim.c" "CMakeFiles/datafree_lib.dir/nn/optim.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/optim.c.o.d"
  "/work/main/nn/pool.c" "CMakeFiles/datafree_lib.dir/nn/pool.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/pool.c.o.d"
  "/work/main/nn/tape.c" "CMakeFiles/datafree_lib.dir/nn/tape.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/tape.c.o.d"
  "/work/main/nn/zoo.c" "CMakeFiles/datafree_lib.dir/nn/zoo.c.o" "gcc" "CMakeFiles/datafree_lib.dir/nn/zoo.c.o.d"
  "/work/main/runners/bench.c" "CMakeFiles/datafree_lib.dir/runners/bench.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/bench.c.o.d"
  "/work/main/runners/cli.c" "CMakeFiles/datafree_lib.dir/runners/cli.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/cli.c.o.d"
  "/work/main/runners/eval.c" "CMakeFiles/datafree_lib.dir/runners/eval.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/eval.c.o.d"
  "/work/main/runners/inspect.c" "CMakeFiles/datafree_lib.dir/runners/inspect.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/inspect.c.o.d"
  "/work/main/runners/model_arg.c" "CMakeFiles/datafree_lib.dir/runners/model_arg.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/model_arg.c.o.d"
  "/work/main/runners/train.c" "CMakeFiles/datafree_lib.dir/runners/train.c.o" "gcc" "CMakeFiles/datafree_lib.dir/runners/train.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
