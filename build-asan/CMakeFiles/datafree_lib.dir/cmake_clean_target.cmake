file(REMOVE_RECURSE
  "libdatafree.a"
)
