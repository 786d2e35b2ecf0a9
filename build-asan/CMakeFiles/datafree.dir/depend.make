# Empty dependencies file for datafree.
# This may be replaced when dependencies are built.
