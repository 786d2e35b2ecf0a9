# Empty dependencies file for test_parity.
# This may be replaced when dependencies are built.
