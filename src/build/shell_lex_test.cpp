#include "build/shell_lex.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::build {
namespace {

const Vars kVars = {{"abc", "hello"},
                    {"foo", "bar"},
                    {"EMPTY", ""},
                    {"SPACED", " a  b "},
                    {"PATHV", "/usr/local/bin"},
                    {"FILE", "archive.tar.gz"},
                    {"STAR", "x*y"},
                    {"Q", "it's \"q\""}};

std::string ok(std::string_view word, char escape = '\\') {
  auto r = expand_word(word, kVars, escape);
  EXPECT_TRUE(r.ok()) << word << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : "<error>";
}

std::string err(std::string_view word) {
  auto r = expand_word(word, kVars);
  EXPECT_FALSE(r.ok()) << word << " -> " << (r.ok() ? *r : "");
  return r.ok() ? "<ok>" : r.error().message();
}

std::vector<std::string> words(std::string_view line, char escape = '\\') {
  auto r = expand_words(line, kVars, escape);
  EXPECT_TRUE(r.ok()) << line << ": " << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : std::vector<std::string>{"<error>"};
}

struct Case {
  const char* in;
  const char* out;
};

void check_table(const std::vector<Case>& cases, char escape = '\\') {
  for (const auto& c : cases) EXPECT_EQ(ok(c.in, escape), c.out) << "input: " << c.in;
}

// The examples of the Dockerfile reference ("Environment replacement").
TEST(ShellLex, DockerfileReferenceExamples) {
  check_table({
      {"$abc", "hello"},
      {"${abc}", "hello"},
      {"${abc:-world}", "hello"},
      {"${unset:-world}", "world"},
      {"${abc:+world}", "world"},
      {"${unset:+world}", ""},
      {"\\$foo", "$foo"},
      {"\\${foo}", "${foo}"},
      {"${foo}_bar", "bar_bar"},
      {"$foo_bar", ""},  // the name is foo_bar
      {"/$abc/x", "/hello/x"},
  });
}

TEST(ShellLex, ColonTellsEmptyFromUnset) {
  check_table({
      {"${EMPTY:-d}", "d"},
      {"${EMPTY-d}", ""},
      {"${unset-d}", "d"},
      {"${EMPTY:+alt}", ""},
      {"${EMPTY+alt}", "alt"},
      {"${unset+alt}", ""},
      {"${abc?boom}", "hello"},
      {"${EMPTY?boom}", ""},
  });
}

TEST(ShellLex, ErrorModifierMessages) {
  EXPECT_EQ(err("${unset?must be set}"), "unset: must be set");
  EXPECT_EQ(err("${unset:?}"), "unset: is not allowed to be unset");
  EXPECT_EQ(err("${EMPTY:?}"), "EMPTY: is not allowed to be empty");
  EXPECT_EQ(err("${EMPTY:?need $abc}"), "EMPTY: need hello");
  // A message is kept to one line.
  EXPECT_EQ(err("${unset?two\nlines}"), "unset: two\\nlines");
}

TEST(ShellLex, NestedDefaults) {
  check_table({
      {"${unset:-${abc}}", "hello"},
      {"${unset:-${also_unset:-deep}}", "deep"},
      {"${unset:-pre-$foo-post}", "pre-bar-post"},
      {"${abc:+[${foo}]}", "[bar]"},
      {"${unset:-\"quoted }\"}", "quoted }"},
      {"${unset:-a\\}b}", "a}b"},
      {"${unset:-'${abc}'}", "${abc}"},
  });
}

TEST(ShellLex, Quotes) {
  check_table({
      {"'$abc'", "$abc"},
      {"\"$abc\"", "hello"},
      {"\"'$abc'\"", "'hello'"},
      {"'\"$abc\"'", "\"$abc\""},
      {"a'b c'd", "ab cd"},
      {"\"\"", ""},
      {"''", ""},
      {"'a\\'", "a\\"},  // no escapes in single quotes
  });
}

TEST(ShellLex, EscapesOutsideAndInsideDoubleQuotes) {
  check_table({
      {"a\\ b", "a b"},
      {"\\a\\b", "ab"},  // outside quotes the escape character is always dropped
      {"\\\\", "\\"},
      {"\\'x\\'", "'x'"},
      {"\\\"", "\""},
      {"\"\\\"\"", "\""},
      {"\"\\$abc\"", "$abc"},
      {"\"\\\\\"", "\\"},
      {"\"\\n\\a\"", "\\n\\a"},  // kept before anything else
      {"trail\\", "trail"},      // a trailing escape character is dropped
  });
}

TEST(ShellLex, BacktickEscape) {
  check_table(
      {
          {"C:\\path\\$abc", "C:\\path\\hello"},
          {"`$abc", "$abc"},
          {"``", "`"},
          {"\"`\"\"", "\""},
          {"a` b", "a b"},
      },
      '`');
}

TEST(ShellLex, DollarBeforeNonNameStaysLiteral) {
  check_table({
      {"$", "$"},
      {"a$", "a$"},
      {"$ x", "$ x"},
      {"$/x", "$/x"},
      {"$.", "$."},
      {"\"$\"", "$"},
      {"$'x'", "$x"},
      {"$1", ""},     // positional parameters are names (never set)
      {"$12x", "x"},  // all the digits are read
      {"$$", ""},     // special parameters too
      {"$@x", "x"},
      {"${1}", ""},
  });
}

TEST(ShellLex, UnsetIsEmpty) {
  check_table({{"$nope", ""}, {"${nope}", ""}, {"a${nope}b", "ab"}});
}

TEST(ShellLex, PatternRemoval) {
  check_table({
      {"${FILE%.*}", "archive.tar"},
      {"${FILE%%.*}", "archive"},
      {"${FILE#*.}", "tar.gz"},
      {"${FILE##*.}", "gz"},
      {"${PATHV#/}", "usr/local/bin"},
      {"${PATHV##*/}", "bin"},
      {"${PATHV%/*}", "/usr/local"},
      {"${FILE%.zip}", "archive.tar.gz"},  // no match: unchanged
      {"${FILE#a?c}", "hive.tar.gz"},
      {"${STAR#x\\*}", "y"},  // an escaped '*' is literal
      {"${STAR%\\*y}", "x"},
      {"${nope%x}", ""},
      {"${FILE%}", "archive.tar.gz"},
  });
}

TEST(ShellLex, PatternRemovalUtf8) {
  Vars v = {{"U", "h\xc3\xa9llo\xc3\xa9"}};
  EXPECT_EQ(expand_word("${U%?}", v).value(), "h\xc3\xa9llo");
  EXPECT_EQ(expand_word("${U#??}", v).value(), "llo\xc3\xa9");
}

TEST(ShellLex, Replace) {
  check_table({
      {"${PATHV/\\//:}", ":usr/local/bin"},
      {"${PATHV//\\//:}", ":usr:local:bin"},
      {"${FILE/.*/}", "archive"},  // longest match at the leftmost place
      {"${FILE/tar/zip}", "archive.zip.gz"},
      {"${FILE/nomatch/x}", "archive.tar.gz"},
      {"${abc//l/L}", "heLLo"},
      {"${abc/#/x}", "hello"},  // '#' is literal here (no anchoring)
      {"${nope/*/y}", "y"},     // docker replaces in the empty value
  });
  EXPECT_EQ(err("${abc/l}"), "missing '/' in '${abc/l}'");
}

TEST(ShellLex, BadSubstitution) {
  EXPECT_EQ(err("${X:%}"), "bad substitution: '${X:%}'");
  EXPECT_EQ(err("${}"), "bad substitution: '${}'");
  EXPECT_EQ(err("${:-x}"), "bad substitution: '${:-x}'");
  EXPECT_EQ(err("${{X}}"), "bad substitution: '${{X}'");
  EXPECT_EQ(err("${#abc}"), "bad substitution: '${#abc}'");  // no length operator in docker
  EXPECT_EQ(err("${abc:0:2}"), "bad substitution: '${abc:0:2}'");
  EXPECT_EQ(err("${a b}"), "bad substitution: '${a b}'");
  EXPECT_EQ(err("${abc^^}"), "bad substitution: '${abc^^}'");
}

TEST(ShellLex, MissingBraceAndQuotes) {
  EXPECT_EQ(err("${X"), "missing '}' in '${X'");
  EXPECT_EQ(err("${"), "missing '}' in '${'");
  EXPECT_EQ(err("a${X:-b"), "missing '}' in '${X:-b'");
  EXPECT_EQ(err("${X:"), "missing '}' in '${X:'");
  EXPECT_EQ(err("'abc"), "unterminated single quote in ''abc'");
  EXPECT_EQ(err("\"abc"), "unterminated double quote in '\"abc'");
  EXPECT_EQ(err("\"abc\\\""), "unterminated double quote in '\"abc\\\"'");
}

TEST(ShellLex, HostileNestingIsRefused) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "${a:-";
  auto r = expand_word(deep, kVars);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("nested more than 32 deep"), std::string::npos);
  EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  EXPECT_LT(r.error().message().size(), 200u);  // the input is quoted, cut short

  std::string fine;
  for (int i = 0; i < 20; ++i) fine += "${a:-";
  fine += "x" + std::string(20, '}');
  EXPECT_EQ(ok(fine), "x");
}

TEST(ShellLex, HostilePatternsStayFast) {
  Vars v = {{"A", std::string(3000, 'a')}};
  std::string pat = "${A//";
  for (int i = 0; i < 30; ++i) pat += "*a";
  pat += "b/x}";
  auto r = expand_word(pat, v);  // an exponential matcher would never finish
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, v["A"]);
}

TEST(ShellLex, ExpandWordsSplitsAtUnquotedWhitespace) {
  EXPECT_EQ(words("a \"b c\" $SPACED"), (std::vector<std::string>{"a", "b c", "a", "b"}));
  EXPECT_EQ(words("\"$SPACED\""), (std::vector<std::string>{" a  b "}));
  EXPECT_EQ(words("  8080/tcp\t 53/udp  "), (std::vector<std::string>{"8080/tcp", "53/udp"}));
  EXPECT_EQ(words("a\\ b c"), (std::vector<std::string>{"a b", "c"}));
  EXPECT_EQ(words("x=$abc y='1 2'"), (std::vector<std::string>{"x=hello", "y=1 2"}));
  EXPECT_EQ(words("pre$SPACED"), (std::vector<std::string>{"pre", "a", "b"}));
  EXPECT_EQ(words("a '' b"), (std::vector<std::string>{"a", "b"}));  // as docker: no empty word
  EXPECT_EQ(words("${unset:-\"d e\"}"), (std::vector<std::string>{"d", "e"}));
  EXPECT_TRUE(words("").empty());
  EXPECT_TRUE(words("   ").empty());
  EXPECT_TRUE(words("$EMPTY").empty());
}

TEST(ShellLex, ExpandWordsErrors) {
  EXPECT_FALSE(expand_words("a 'b", kVars).ok());
  EXPECT_FALSE(expand_words("${x", kVars).ok());
}

TEST(ShellLex, ExpandWordKeepsInnerSpaces) {
  EXPECT_EQ(ok("a  $SPACED  b"), "a   a  b   b");
  EXPECT_EQ(ok("\"$Q\""), "it's \"q\"");
}

TEST(ShellLex, OnlyGivenVarsAreSeen) {
  // The process environment (PATH, HOME) is never read.
  EXPECT_EQ(expand_word("$PATH$HOME", Vars{}).value(), "");
}

TEST(ShellLex, ReferencedVars) {
  EXPECT_EQ(referenced_vars("$a ${b} ${c:-$d} ${e#$f} '$g' \"$h\" \\$i $a"),
            (std::vector<std::string>{"a", "b", "c", "d", "e", "f", "h"}));
  EXPECT_EQ(referenced_vars("${X:?unset is fine here}"), (std::vector<std::string>{"X"}));
  EXPECT_EQ(referenced_vars("${A} ${B"), (std::vector<std::string>{"A", "B"}));  // malformed
  EXPECT_EQ(referenced_vars("`$A $B", '`'), (std::vector<std::string>{"B"}));
  EXPECT_TRUE(referenced_vars("no vars, $ alone").empty());
}

TEST(ShellLex, HostileBytesDoNotCrash) {
  std::string junk;
  for (int c = 0; c < 256; ++c) junk += static_cast<char>(c);
  for (std::string w :
       {junk, std::string("${\0}", 4), std::string("$\xff\xfe"), std::string("${A/\xff/\xfe}")}) {
    (void)expand_word(w, kVars);
    (void)expand_words(w, kVars);
    (void)referenced_vars(w);
  }
  auto r = expand_word("'\n", kVars);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "unterminated single quote in ''\\n'");
}

TEST(ShellLex, NamesAreCaseSensitive) {
  check_table({{"$ABC", ""}, {"${Abc:-d}", "d"}, {"$abc", "hello"}});
}

TEST(ShellLex, ReplaceEverySingleCharacter) {
  check_table({
      {"${abc//?/-}", "-----"},
      {"${abc//*/-}", "-"},
      {"${abc/*/-}", "-"},
      {"${EMPTY//?/-}", ""},
      {"${PATHV%\\/bin}", "/usr/local"},  // an escaped '/' in a % pattern
      {"${abc/l/$foo}", "hebarlo"},       // the replacement expands
  });
}

TEST(ShellLex, ErrorsStayOneShortLine) {
  std::string long_word = "${" + std::string(5000, 'x');
  auto r = expand_word(long_word, kVars);
  ASSERT_FALSE(r.ok());
  EXPECT_LT(r.error().message().size(), 120u);
  EXPECT_NE(r.error().message().find("..."), std::string::npos);

  auto named = expand_word("${" + std::string(5000, 'N') + ":?}", kVars);
  ASSERT_FALSE(named.ok());
  EXPECT_LT(named.error().message().size(), 150u);
}

// The build cache keys a step on referenced_vars: variables outside it must not matter.
TEST(ShellLex, ReferencedVarsCoverEverythingThatMatters) {
  for (const char* w : {"${abc:-$foo}", "${unset:-${foo%r}}", "\"$SPACED\"-${FILE##*.}",
                        "${abc/l/$foo}", "${EMPTY:+${abc}}"}) {
    Vars only;
    for (const auto& n : referenced_vars(w))
      if (auto it = kVars.find(n); it != kVars.end()) only.insert(*it);
    EXPECT_EQ(expand_word(w, only).value(), ok(w)) << w;
  }
}

TEST(ShellLex, QuotedVariableStaysOneWord) {
  EXPECT_EQ(words("\"$SPACED\"x y"), (std::vector<std::string>{" a  b x", "y"}));
  EXPECT_EQ(words("'$SPACED'"), (std::vector<std::string>{"$SPACED"}));
  EXPECT_EQ(words("a`\\ b", '`'), (std::vector<std::string>{"a\\", "b"}));
}

}  // namespace
}  // namespace berth::build
