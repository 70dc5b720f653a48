#include "cli/berth/commands.h"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <set>

#include "cli/berth/context.h"
#include "cli/berth/globals.h"

namespace berth::cli {
namespace {

std::set<std::string> top_words(const CLI::App& app) {
  std::set<std::string> out;
  for (const CLI::App* s : app.get_subcommands([](const CLI::App*) { return true; })) {
    out.insert(s->get_name());
    for (const auto& a : s->get_aliases()) out.insert(a);
  }
  return out;
}

// The table main uses to build only what a command needs matches what each group registers:
// a group missing from a word's list would make that command unknown.
TEST(Commands, TableMatchesTheGroups) {
  GlobalOptions g = default_globals();
  Context ctx(g);
  const auto& groups = command_groups();
  ASSERT_EQ(groups.size(), group_words().size());
  for (size_t i = 0; i < groups.size(); ++i) {
    CLI::App app;
    groups[i].add(app, ctx);
    std::set<std::string> want(group_words()[i].begin(), group_words()[i].end());
    EXPECT_EQ(top_words(app), want) << "group " << groups[i].name;
  }
}

TEST(Commands, OnlyTheNeededGroupsAreBuilt) {
  GlobalOptions g = default_globals();
  Context ctx(g);
  CLI::App all;
  add_commands(all, ctx, "");
  size_t every = top_words(all).size();
  CLI::App run;
  add_commands(run, ctx, "run");
  EXPECT_TRUE(top_words(run).count("run"));
  EXPECT_LT(top_words(run).size(), every);
  CLI::App unknown;
  add_commands(unknown, ctx, "no-such-command");
  EXPECT_EQ(top_words(unknown).size(), every);
  // Every word reaches a tree that has it, with all of its subcommands: the same subtree as
  // when everything is built.
  for (const auto& w : top_words(all)) {
    CLI::App some;
    add_commands(some, ctx, w);
    auto* full = all.get_subcommand(w);
    auto* part = some.get_subcommand(w);
    ASSERT_NE(part, nullptr) << w;
    auto names = [](CLI::App* a) {
      std::set<std::string> n;
      for (const CLI::App* s : a->get_subcommands([](const CLI::App*) { return true; })) n.insert(s->get_name());
      return n;
    };
    EXPECT_EQ(names(part), names(full)) << w;
  }
}

TEST(Commands, CommandWord) {
  auto word = [](std::vector<const char*> v) {
    v.insert(v.begin(), "berth");
    return command_word(static_cast<int>(v.size()), v.data());
  };
  EXPECT_EQ(word({"run", "--rm", "bb"}), "run");
  EXPECT_EQ(word({"--root", "/r", "--runroot", "/rr", "--config", "/c", "ps"}), "ps");
  EXPECT_EQ(word({"--root=/r", "-D", "--cdi-spec-dir", "/x", "images"}), "images");
  EXPECT_EQ(word({"--debug", "--", "logs"}), "logs");
  EXPECT_EQ(word({"--help"}), "");
  EXPECT_EQ(word({}), "");
  EXPECT_EQ(word({"--root"}), "");
}

}  // namespace
}  // namespace berth::cli
