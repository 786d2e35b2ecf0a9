# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build-asan
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
add_test(test_data "/work/main/build-asan/test_data")
set_tests_properties(test_data PROPERTIES  ENVIRONMENT "DATAFREE_BIN=/work/main/build-asan/datafree" WORKING_DIRECTORY "/work/main" _BACKTRACE_TRIPLES "/work/main/CMakeLists.txt;55;add_test;/work/main/CMakeLists.txt;0;")
add_test(test_graph "/work/main/build-asan/test_graph")
set_tests_properties(test_graph PROPERTIES  ENVIRONMENT "DATAFREE_BIN=/work/main/build-asan/datafree" WORKING_DIRECTORY "/work/main" _BACKTRACE_TRIPLES "/work/main/CMakeLists.txt;55;add_test;/work/main/CMakeLists.txt;0;")
add_test(test_ops "/work/main/build-asan/test_ops")
set_tests_properties(test_ops PROPERTIES  ENVIRONMENT "DATAFREE_BIN=/work/main/build-asan/datafree" WORKING_DIRECTORY "/work/main" _BACKTRACE_TRIPLES "/work/main/CMakeLists.txt;55;add_test;/work/main/CMakeLists.txt;0;")
add_test(test_parity "/work/main/build-asan/test_parity")
set_tests_properties(test_parity PROPERTIES  ENVIRONMENT "DATAFREE_BIN=/work/main/build-asan/datafree" WORKING_DIRECTORY "/work/main" _BACKTRACE_TRIPLES "/work/main/CMakeLists.txt;55;add_test;/work/main/CMakeLists.txt;0;")
add_test(test_train "/work/main/build-asan/test_train")
set_tests_properties(test_train PROPERTIES  ENVIRONMENT "DATAFREE_BIN=/work/main/build-asan/datafree" WORKING_DIRECTORY "/work/main" _BACKTRACE_TRIPLES "/work/main/CMakeLists.txt;55;add_test;/work/main/CMakeLists.txt;0;")
