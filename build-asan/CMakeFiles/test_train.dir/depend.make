# Empty dependencies file for test_train.
# This may be replaced when dependencies are built.
