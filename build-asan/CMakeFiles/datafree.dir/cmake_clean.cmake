file(REMOVE_RECURSE
  "CMakeFiles/datafree.dir/runners/main.c.o"
  "CMakeFiles/datafree.dir/runners/main.c.o.d"
  "datafree"
  "datafree.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/datafree.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
