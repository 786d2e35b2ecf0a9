file(REMOVE_RECURSE
  "CMakeFiles/test_parity.dir/tests/test_parity.c.o"
  "CMakeFiles/test_parity.dir/tests/test_parity.c.o.d"
  "CMakeFiles/test_parity.dir/tests/testutil.c.o"
  "CMakeFiles/test_parity.dir/tests/testutil.c.o.d"
  "test_parity"
  "test_parity.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/test_parity.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
