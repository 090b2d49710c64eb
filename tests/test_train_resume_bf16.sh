# test_train_resume.sh with bf16 products (tests/lib.bash, FER_TEST_PRECISION): the
# same checks must hold for mixed-precision training.
FER_TEST_PRECISION=bf16 exec bash "$(dirname "$0")/test_train_resume.sh"
