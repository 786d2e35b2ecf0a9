# Empty dependencies file for datafree_lib.
# This may be replaced when dependencies are built.
