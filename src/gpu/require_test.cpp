#include "gpu/require.h"

#include <gtest/gtest.h>

namespace berth::gpu {
namespace {

using Env = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

TEST(Requirement, ParsesOrOfAndClauses) {
  auto r =
      parse_requirement("cuda>=12.4 brand=tesla,driver>=470,driver<471  brand=Unknown,driver>=535");
  ASSERT_TRUE(r.ok()) << r.error().message();
  Requirement want = {
      {{"cuda", ">=", "12.4"}},
      {{"brand", "=", "tesla"}, {"driver", ">=", "470"}, {"driver", "<", "471"}},
      {{"brand", "=", "Unknown"}, {"driver", ">=", "535"}},
  };
  EXPECT_EQ(*r, want);
  EXPECT_EQ(requirement_string(*r),
            "cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=Unknown,driver>=535");
}

TEST(Requirement, EveryOperatorAndKey) {
  const std::pair<std::string, RequireTerm> cases[] = {
      {"cuda=12", {"cuda", "=", "12"}},
      {"cuda!=12.1", {"cuda", "!=", "12.1"}},
      {"driver<550.54.15", {"driver", "<", "550.54.15"}},
      {"driver<=550", {"driver", "<=", "550"}},
      {"arch>7.5", {"arch", ">", "7.5"}},
      {"arch>=8.0", {"arch", ">=", "8.0"}},
      {"brand=tesla", {"brand", "=", "tesla"}},
      {"brand!=GeForce", {"brand", "!=", "GeForce"}},
      {"CUDA>=11", {"cuda", ">=", "11"}},  // keys read case-insensitively
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto r = parse_requirement(in);
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->size(), 1u);
    ASSERT_EQ((*r)[0].size(), 1u);
    EXPECT_EQ((*r)[0][0], want);
  }
}

TEST(Requirement, BlankIsNothingRequired) {
  for (const char* in : {"", "   ", "\t\n"}) {
    auto r = parse_requirement(in);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->empty());
  }
}

TEST(Requirement, BadInput) {
  const std::pair<std::string, std::string> cases[] = {
      {"gpu>=1", "invalid requirement term \"gpu>=1\": unknown key 'gpu'"},
      {">=12", "invalid requirement term \">=12\": unknown key ''"},
      {"cuda", "invalid requirement term \"cuda\": no operator (one of = != < <= > >=)"},
      {"cuda~12", "invalid requirement term \"cuda~12\": no operator (one of = != < <= > >=)"},
      {"cuda=>12", "invalid requirement term \"cuda=>12\": '>12' is not a version"},
      {"cuda==12", "invalid requirement term \"cuda==12\": '=12' is not a version"},
      {"cuda>=", "invalid requirement term \"cuda>=\": empty value"},
      {"brand=", "invalid requirement term \"brand=\": empty value"},
      {"brand>=tesla", "invalid requirement term \"brand>=tesla\": brand takes only = and !="},
      {"brand<x", "invalid requirement term \"brand<x\": brand takes only = and !="},
      {"cuda>=12.x", "invalid requirement term \"cuda>=12.x\": '12.x' is not a version"},
      {"cuda>=12..4", "invalid requirement term \"cuda>=12..4\": '12..4' is not a version"},
      {"cuda>=.12", "invalid requirement term \"cuda>=.12\": '.12' is not a version"},
      {"driver>=470.", "invalid requirement term \"driver>=470.\": '470.' is not a version"},
      {"arch>=-1", "invalid requirement term \"arch>=-1\": '-1' is not a version"},
      {"cuda>=12,", "empty requirement term"},
      {",cuda>=12", "empty requirement term"},
      {"cuda>=12 brand=tesla,,driver>=1", "empty requirement term"},
  };
  for (const auto& [in, want] : cases) {
    SCOPED_TRACE(in);
    auto r = parse_requirement(in);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message(), want);
  }
}

TEST(Versions, Compare) {
  const std::tuple<std::string, std::string, int> cases[] = {
      {"12.4", "12.4", 0},
      {"12.4", "12.4.0", 0},
      {"12.4.0.0", "12.4", 0},
      {"12", "12.0", 0},
      {"12.4", "12.10", -1},
      {"9.0", "10.0", -1},
      {"550.54.15", "470", 1},
      {"470.57.02", "471", -1},
      {"470.57.02", "470.57.2", 0},  // leading zeros ignored
      {"12.4.1", "12.4", 1},
      {"", "0", 0},
      {"99999999999999999999999", "99999999999999999999998", 1},  // no overflow
  };
  for (const auto& [a, b, want] : cases) {
    EXPECT_EQ(compare_versions(a, b), want) << a << " vs " << b;
    EXPECT_EQ(compare_versions(b, a), -want) << b << " vs " << a;
  }
}

TEST(RequirementsOf, CollectsRequireVariables) {
  Env env = {"PATH=/usr/bin",
             "NVIDIA_REQUIRE_CUDA=cuda>=12.4",
             "NVIDIA_REQUIRE_ARCH=arch>=8.0",
             "NVIDIA_REQUIRE_JETPACK=csv-mounts=all",
             "CUDA_VERSION=12.4.1",
             "NOT_AN_ASSIGNMENT"};
  EXPECT_EQ(requirements_of(env),
            (Pairs{{"NVIDIA_REQUIRE_ARCH", "arch>=8.0"}, {"NVIDIA_REQUIRE_CUDA", "cuda>=12.4"}}));
}

TEST(RequirementsOf, LegacyImageAddsCudaFromCudaVersion) {
  EXPECT_EQ(requirements_of({"CUDA_VERSION=11.8.0"}), (Pairs{{"CUDA_VERSION", "cuda>=11.8"}}));
  EXPECT_EQ(requirements_of({"CUDA_VERSION=10"}), (Pairs{{"CUDA_VERSION", "cuda>=10"}}));
  EXPECT_EQ(requirements_of({"CUDA_VERSION=9.0", "NVIDIA_REQUIRE_DRIVER=driver>=384"}),
            (Pairs{{"NVIDIA_REQUIRE_DRIVER", "driver>=384"}, {"CUDA_VERSION", "cuda>=9.0"}}));
  // An empty NVIDIA_REQUIRE_CUDA still makes a legacy image (as the toolkit reads it).
  EXPECT_EQ(requirements_of({"CUDA_VERSION=9.0", "NVIDIA_REQUIRE_CUDA="}),
            (Pairs{{"NVIDIA_REQUIRE_CUDA", ""}, {"CUDA_VERSION", "cuda>=9.0"}}));
  // Not legacy: NVIDIA_REQUIRE_CUDA states it; an empty CUDA_VERSION states nothing.
  EXPECT_EQ(requirements_of({"CUDA_VERSION=12.4.1", "NVIDIA_REQUIRE_CUDA=cuda>=12.4"}),
            (Pairs{{"NVIDIA_REQUIRE_CUDA", "cuda>=12.4"}}));
  EXPECT_TRUE(requirements_of({"CUDA_VERSION="}).empty());
}

TEST(RequirementsOf, LaterEntriesWin) {
  EXPECT_EQ(requirements_of({"NVIDIA_REQUIRE_CUDA=cuda>=11", "NVIDIA_REQUIRE_CUDA=cuda>=12"}),
            (Pairs{{"NVIDIA_REQUIRE_CUDA", "cuda>=12"}}));
}

TEST(RequirementsOf, DisableRequire) {
  for (const char* v : {"true", "1", "yes", "TRUE", "Yes"}) {
    Env env = {"NVIDIA_REQUIRE_CUDA=cuda>=99", "CUDA_VERSION=99.0",
               std::string("NVIDIA_DISABLE_REQUIRE=") + v};
    EXPECT_TRUE(requirements_of(env).empty()) << v;
    EXPECT_TRUE(check_requirements(env, {"12.2", "535.104.05", {}}).ok()) << v;
  }
  for (const char* v : {"false", "0", "", "no"}) {
    Env env = {"NVIDIA_REQUIRE_CUDA=cuda>=99", std::string("NVIDIA_DISABLE_REQUIRE=") + v};
    EXPECT_EQ(requirements_of(env).size(), 1u) << v;
  }
}

const RequireFacts kHost{"12.2", "535.104.05", {}};
const std::string kAdvice =
    ", please update your driver to a newer version, or use an earlier cuda container";

TEST(CheckRequirements, PassesWhenSatisfied) {
  const Env envs[] = {
      {},
      {"NVIDIA_REQUIRE_CUDA=cuda>=12.2"},
      {"NVIDIA_REQUIRE_CUDA=cuda>=12.2.0"},
      {"NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=535,driver<536"},  // forward compat
      {"CUDA_VERSION=12.1.0"},
      {"NVIDIA_REQUIRE_DRIVER=driver>=470 driver<1", "NVIDIA_REQUIRE_CUDA=cuda<13,cuda!=12.1"},
      {"NVIDIA_REQUIRE_JETPACK=anything goes"},
      {"NVIDIA_REQUIRE_ARCH=arch>=9.0"},  // no GPU visible: arch passes
  };
  RequireFacts tesla = kHost;
  tesla.gpus = {{"8.0", "Tesla"}};
  for (const auto& env : envs) {
    EXPECT_TRUE(check_requirements(env, kHost).ok()) << ::testing::PrintToString(env);
  }
  EXPECT_TRUE(
      check_requirements({"NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=535"}, tesla).ok());
}

TEST(CheckRequirements, FailureNamesConditionAndHost) {
  const std::pair<Env, std::string> cases[] = {
      {{"NVIDIA_REQUIRE_CUDA=cuda>=12.4"},
       "unsatisfied condition: cuda>=12.4" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=470,driver<471"},
       "unsatisfied condition: cuda>=12.4" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"CUDA_VERSION=12.3.2"},
       "unsatisfied condition: cuda>=12.3" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_DRIVER=driver>=545,cuda>=12"},
       "unsatisfied condition: driver>=545" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_CUDA=cuda=12.1"},
       "unsatisfied condition: cuda=12.1" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_CUDA=cuda>12.2"},
       "unsatisfied condition: cuda>12.2" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_CUDA=cuda<=12.1"},
       "unsatisfied condition: cuda<=12.1" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
      {{"NVIDIA_REQUIRE_CUDA=cuda!=12.2.0"},
       "unsatisfied condition: cuda!=12.2.0" + kAdvice + " (host CUDA 12.2, driver 535.104.05)"},
  };
  for (const auto& [env, want] : cases) {
    auto st = check_requirements(env, kHost);
    ASSERT_FALSE(st.ok()) << want;
    EXPECT_EQ(st.error().message(), want);
  }
}

TEST(CheckRequirements, EveryGpuMustSatisfy) {
  RequireFacts facts = kHost;
  facts.gpus = {{"9.0", "tesla"}, {"7.5", "GeForce"}};
  auto st = check_requirements({"NVIDIA_REQUIRE_ARCH=arch>=8.0"}, facts);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "unsatisfied condition: arch>=8.0 (host CUDA 12.2, driver 535.104.05, GPU arch 7.5, "
            "brand GeForce)");
  // brand compares case-insensitively.
  EXPECT_TRUE(check_requirements({"NVIDIA_REQUIRE_BRAND=brand=TESLA brand=geforce"}, facts).ok());
  st = check_requirements({"NVIDIA_REQUIRE_BRAND=brand!=geforce"}, facts);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "unsatisfied condition: brand!=geforce (host CUDA 12.2, driver 535.104.05, GPU arch "
            "7.5, brand GeForce)");
}

TEST(CheckRequirements, UnknownFactsPass) {
  RequireFacts unknown;
  unknown.gpus = {{"", ""}};
  EXPECT_TRUE(
      check_requirements({"NVIDIA_REQUIRE_CUDA=cuda>=99,driver>=999,arch>=99,brand=x"}, unknown)
          .ok());
  RequireFacts partly{"12.2", "", {}};
  auto st = check_requirements({"NVIDIA_REQUIRE_CUDA=cuda>=12.4"}, partly);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "unsatisfied condition: cuda>=12.4" + kAdvice + " (host CUDA 12.2, driver unknown)");
}

TEST(CheckRequirements, MalformedVariableIsNamed) {
  auto st = check_requirements({"NVIDIA_REQUIRE_FOO=cuda>>12"}, kHost);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "NVIDIA_REQUIRE_FOO: invalid requirement term \"cuda>>12\": '>12' is not a version");
  st = check_requirements({"CUDA_VERSION=latest"}, kHost);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message(),
            "CUDA_VERSION: invalid requirement term \"cuda>=latest\": 'latest' is not a version");
}

}  // namespace
}  // namespace berth::gpu
