// commit_cp_test.cpp (being written)
#include <gtest/gtest.h>
