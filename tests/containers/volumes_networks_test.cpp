// volumes_networks_test.cpp (being written)
#include <gtest/gtest.h>
