#include "build/ignore.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace berth::build {
namespace {

IgnoreMatcher parse_ok(std::string_view text) {
  auto m = IgnoreMatcher::parse(text);
  EXPECT_TRUE(m.ok()) << text << ": " << (m.ok() ? "" : m.error().message());
  return m.ok() ? std::move(m).value() : IgnoreMatcher();
}

std::string parse_err(std::string_view text) {
  auto m = IgnoreMatcher::parse(text);
  EXPECT_FALSE(m.ok()) << text;
  return m.ok() ? "<ok>" : m.error().message();
}

// The example of docker's .dockerignore documentation.
TEST(DockerIgnore, DocsExampleTemp) {
  auto m = parse_ok("# comment\n*/temp*\n*/*/temp*\ntemp?\n");
  EXPECT_EQ(m.patterns().size(), 3u);
  EXPECT_TRUE(m.excluded("somedir/temporary.txt"));
  EXPECT_TRUE(m.excluded("somedir/temp"));
  EXPECT_TRUE(m.excluded("somedir/subdir/temporary.txt"));
  EXPECT_TRUE(m.excluded("tempa"));
  EXPECT_TRUE(m.excluded("tempb"));
  EXPECT_TRUE(m.excluded("somedir/temp/inside.txt"));  // under an excluded directory
  EXPECT_FALSE(m.excluded("temporary.txt"));           // */temp* needs one directory level
  EXPECT_FALSE(m.excluded("temp"));                    // temp? needs one more character
  EXPECT_FALSE(m.excluded("a/b/c/temp"));              // three levels: no pattern
  EXPECT_FALSE(m.excluded("somedir/x.txt"));
  EXPECT_FALSE(m.excluded("# comment"));
}

TEST(DockerIgnore, DoubleStarGo) {
  auto m = parse_ok("**/*.go\n");
  EXPECT_TRUE(m.excluded("main.go"));
  EXPECT_TRUE(m.excluded("a/b/c/x.go"));
  EXPECT_FALSE(m.excluded("a/b/c/x.golang"));
  EXPECT_FALSE(m.excluded("a/go"));
}

TEST(DockerIgnore, MarkdownExceptReadme) {
  auto m = parse_ok("*.md\n!README*.md\n");
  EXPECT_TRUE(m.excluded("CHANGES.md"));
  EXPECT_FALSE(m.excluded("README.md"));
  EXPECT_FALSE(m.excluded("README-secret.md"));
  EXPECT_FALSE(m.excluded("docs/CHANGES.md"));  // *.md is for the root only
}

// The two orderings of docker's documentation: the last matching line decides.
TEST(DockerIgnore, OrderSemantics) {
  auto secret_last = parse_ok("*.md\n!README*.md\nREADME-secret.md\n");
  EXPECT_TRUE(secret_last.excluded("README-secret.md"));
  EXPECT_FALSE(secret_last.excluded("README.md"));
  EXPECT_TRUE(secret_last.excluded("other.md"));

  auto exception_last = parse_ok("*.md\nREADME-secret.md\n!README*.md\n");
  EXPECT_FALSE(exception_last.excluded("README-secret.md"));
  EXPECT_FALSE(exception_last.excluded("README.md"));
  EXPECT_TRUE(exception_last.excluded("other.md"));

  auto exception_first = parse_ok("!fileutils.go\n*.go\n");
  EXPECT_TRUE(exception_first.excluded("fileutils.go"));
}

TEST(DockerIgnore, DirectoryExclusionWithException) {
  for (const char* text :
       {"docs\n!docs/README.md\n", "docs/\n!docs/README.md\n", "docs/*\n!docs/README.md\n"}) {
    auto m = parse_ok(text);
    EXPECT_FALSE(m.excluded("docs/README.md")) << text;
    EXPECT_TRUE(m.excluded("docs/other.md")) << text;
    EXPECT_TRUE(m.excluded("docs/sub/README.md")) << text;
  }
  auto m = parse_ok("**\n!util/docker/web\n");
  EXPECT_FALSE(m.excluded("util/docker/web/foo"));  // the exception covers what is under it
  EXPECT_TRUE(m.excluded("util/docker/other"));
  auto again = parse_ok("**\n!util/docker/web\nutil/docker/web/foo\n");
  EXPECT_TRUE(again.excluded("util/docker/web/foo"));
}

// moby/patternmatcher's table (TestMatches, MatchesOrParentMatches): pattern, path, excluded.
TEST(DockerIgnore, PatternMatcherTable) {
  struct Case {
    const char* pattern;
    const char* path;
    bool excluded;
  } cases[] = {
      {"**", "file", true},
      {"**/", "file", true},
      {"**", "dir/file", true},
      {"**/**", "dir/file", true},
      {"dir/**", "dir/file", true},
      {"dir/**", "dir/dir2/file", true},
      {"**/dir", "dir", true},
      {"**/dir", "dir/file", true},
      {"**/dir2/*", "dir/dir2/file", true},
      {"**/dir2/**", "dir/dir2/dir3/file", true},
      {"**file", "file", true},
      {"**file", "dir/file", true},
      {"**/file", "dir/dir/file", true},
      {"**/file*", "dir/dir/file.txt", true},
      {"**/file*txt", "dir/dir/file.txt", true},
      {"**/file*.txt*", "dir/dir/file.txt", true},
      {"**/**/*.txt", "dir/dir/file.txt", true},
      {"**/**/*.txt2", "dir/dir/file.txt", false},
      {"**/*.txt", "file.txt", true},
      {"**/**/*.txt", "file.txt", true},
      {"a**/*.txt", "a/file.txt", true},
      {"a**/*.txt", "a/dir/dir/file.txt", true},
      {"a/*.txt", "a/dir/file.txt", false},
      {"a/*.txt", "a/file.txt", true},
      {"a/*.txt**", "a/file.txt", true},
      {"a[b-d]e", "ae", false},
      {"a[b-d]e", "ace", true},
      {"a[b-d]e", "aae", false},
      {"a[^b-d]e", "aze", true},
      {".*", ".foo", true},
      {".*", "foo", false},
      {"abc.def", "abcdef", false},
      {"abc.def", "abc.def", true},
      {"abc?def", "abcZdef", true},
      {"abc?def", "abcdef", false},
      {"**/foo/bar", "foo/bar", true},
      {"**/foo/bar", "dir/dir2/foo/bar", true},
      {"abc/**", "abc", false},
      {"abc/**", "abc/def/ghi", true},
      {"**/.foo", ".foo", true},
      {"**/.foo", "bar.foo", false},
      {"a(b)c/def", "a(b)c/def", true},
      {"a.|)$(}+{bc", "a.|)$(}+{bc", true},
      {"dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true},
      {"a\\\\", "a\\", true},
      {"a\\*b", "a*b", true},
      {"a\\*b", "axb", false},
      {"a*", "ab/c", true},  // through the parent "ab"
      {"a*/b", "a/c/b", false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
      {"a*b?c*x", "abxbbxdbxebxczzx", true},
      {"a*b?c*x", "abxbbxdbxebxczzy", false},
      {"**.go", "deep/dir/x.go", true},  // docker's "**suffix" shortcut
      {"a**b", "ab", true},
      {"a**b", "ax/b", true},
      {"a**b", "axb", false},
      {"/abs/path", "abs/path", true},  // a leading '/' is dropped
      {"./rel/../x//y/", "x/y", true},  // cleaned
  };
  for (const auto& c : cases) {
    auto m = parse_ok(c.pattern);
    EXPECT_EQ(m.excluded(c.path), c.excluded) << c.pattern << " vs " << c.path;
  }
}

TEST(DockerIgnore, FileFormat) {
  auto m = parse_ok(
      "\xEF\xBB\xBF"
      "first\r\n"
      "  # not a comment: '#' only counts in column 1\r\n"
      "#comment\n"
      "\n"
      "   \t  \n"
      "trailing   \t\n"
      "! spaced/exception \n"
      "last");
  ASSERT_EQ(m.patterns().size(), 5u);
  EXPECT_EQ(m.patterns()[0].text, "first");  // BOM and CR gone
  EXPECT_EQ(m.patterns()[1].text, "# not a comment: '#' only counts in column 1");
  EXPECT_EQ(m.patterns()[2].text, "trailing");
  EXPECT_EQ(m.patterns()[3].text, "spaced/exception");
  EXPECT_TRUE(m.patterns()[3].exception);
  EXPECT_EQ(m.patterns()[4].text, "last");
  EXPECT_TRUE(m.excluded("first"));
  EXPECT_TRUE(m.excluded("trailing"));
  EXPECT_TRUE(m.excluded("last"));
}

TEST(DockerIgnore, PatternTextIsCleaned) {
  auto m = parse_ok("/a/./b/\n!/c/../d\n./e\n");
  ASSERT_EQ(m.patterns().size(), 3u);
  EXPECT_EQ(m.patterns()[0].text, "a/b");
  EXPECT_FALSE(m.patterns()[0].exception);
  EXPECT_EQ(m.patterns()[1].text, "d");
  EXPECT_TRUE(m.patterns()[1].exception);
  EXPECT_EQ(m.patterns()[2].text, "e");
  // As docker: the '/' goes after cleaning, so this '!' is only seen then, and the rest of
  // the line is not cleaned again ("./x" never matches: paths have no "./").
  auto quirk = parse_ok("/!./x\n");
  ASSERT_EQ(quirk.patterns().size(), 1u);
  EXPECT_TRUE(quirk.patterns()[0].exception);
  EXPECT_EQ(quirk.patterns()[0].text, "./x");
}

TEST(DockerIgnore, Errors) {
  EXPECT_EQ(parse_err("ok\n[a\n"), "invalid .dockerignore pattern on line 2: '[a': bad pattern");
  EXPECT_EQ(parse_err("!"),
            "invalid .dockerignore pattern on line 1: '!': illegal exclusion pattern");
  EXPECT_EQ(parse_err("a\n\n\n  !  \n"),
            "invalid .dockerignore pattern on line 4: '!': illegal exclusion pattern");
  EXPECT_EQ(parse_err("x\\"), "invalid .dockerignore pattern on line 1: 'x\\': bad pattern");
  EXPECT_EQ(parse_err("[]a]"), "invalid .dockerignore pattern on line 1: '[]a]': bad pattern");
  // Control characters are shown escaped: the message stays one line.
  auto msg = parse_err("[\x01\x1b");
  EXPECT_EQ(msg.find('\x1b'), std::string::npos);
  EXPECT_NE(msg.find("\\x1b"), std::string::npos);
}

TEST(DockerIgnore, EmptyAndRoot) {
  IgnoreMatcher none;
  EXPECT_TRUE(none.empty());
  EXPECT_FALSE(none.excluded("anything"));
  EXPECT_FALSE(none.may_include_under("anything"));
  auto blank = parse_ok("# only comments\n\n");
  EXPECT_TRUE(blank.empty());
  auto all = parse_ok("*\n");
  EXPECT_FALSE(all.empty());
  EXPECT_FALSE(all.excluded("."));  // the context root itself is never excluded
  EXPECT_FALSE(all.excluded(""));
  EXPECT_TRUE(all.excluded("x"));
  EXPECT_TRUE(all.excluded("x/y/z"));
}

TEST(DockerIgnore, MayIncludeUnder) {
  auto m = parse_ok("docs\n!docs/keep/*.md\nbuild\n!*.txt\n");
  // docs is excluded, but docs/keep/a.md comes back: the walker must descend.
  EXPECT_TRUE(m.excluded("docs"));
  EXPECT_TRUE(m.may_include_under("docs"));
  EXPECT_TRUE(m.may_include_under("docs/keep"));
  EXPECT_FALSE(m.excluded("docs/keep/a.md"));
  EXPECT_FALSE(m.may_include_under("docs/other"));  // no exception reaches in there
  EXPECT_TRUE(m.excluded("docs/other/a.md"));
  // "!*.txt" only matches at the root: nothing under build comes back.
  EXPECT_TRUE(m.excluded("build"));
  EXPECT_FALSE(m.may_include_under("build"));
  EXPECT_TRUE(m.may_include_under("."));

  auto deep = parse_ok("vendor\n!**/LICENSE\n");
  EXPECT_TRUE(deep.may_include_under("vendor"));
  EXPECT_FALSE(deep.excluded("vendor/x/LICENSE"));

  // A later exclusion of the directory itself defeats an earlier exception.
  auto defeated = parse_ok("!docs/keep.md\ndocs\n");
  EXPECT_TRUE(defeated.excluded("docs/keep.md"));
  EXPECT_FALSE(defeated.may_include_under("docs"));

  auto no_exceptions = parse_ok("docs\n*.tmp\n");
  EXPECT_FALSE(no_exceptions.may_include_under("docs"));
}

TEST(DockerIgnore, HostilePatternsStayFast) {
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += "*a";
  pattern += "b\n";
  auto m = parse_ok(pattern + "!" + pattern);
  std::string path = std::string(4000, 'a');
  auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(m.excluded(path));
  EXPECT_FALSE(m.excluded(path + "/" + path));
  (void)m.may_include_under(path);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
}

// Go's filepath.Match (its own test table, with Go's answers).
TEST(PathMatch, GoTable) {
  struct Case {
    const char* pattern;
    const char* name;
    bool match;
  } cases[] = {
      {"abc", "abc", true},
      {"*", "abc", true},
      {"*c", "abc", true},
      {"a*", "a", true},
      {"a*", "abc", true},
      {"a*", "ab/c", false},
      {"a*/b", "abc/b", true},
      {"a*/b", "a/c/b", false},
      {"a*b*c*d*e*/f", "axbxcxdxe/f", true},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/f", true},
      {"a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false},
      {"a*b*c*d*e*/f", "axbxcxdxexxx/fff", false},
      {"a*b?c*x", "abxbbxdbxebxczzx", true},
      {"a*b?c*x", "abxbbxdbxebxczzy", false},
      {"ab[c]", "abc", true},
      {"ab[b-d]", "abc", true},
      {"ab[e-g]", "abc", false},
      {"ab[^c]", "abc", false},
      {"ab[^b-d]", "abc", false},
      {"ab[^e-g]", "abc", true},
      {"a\\*b", "a*b", true},
      {"a\\*b", "ab", false},
      {"a?b",
       "a\xe2\x98\xba"
       "b",
       true},  // '?' is one character, not one byte
      {"a[^a]b",
       "a\xe2\x98\xba"
       "b",
       true},
      {"a???b",
       "a\xe2\x98\xba"
       "b",
       false},
      {"[a-\xce\xb6]*", "\xce\xb1", true},
      {"*[a-\xce\xb6]", "A", false},
      {"a?b", "a/b", false},
      {"a*b", "a/b", false},
      {"[\\]a]", "]", true},
      {"[\\-]", "-", true},
      {"[x\\-]", "x", true},
      {"[x\\-]", "-", true},
      {"[x\\-]", "z", false},
      {"[!a]", "!", true},  // no '!' negation in Go
      {"[!a]", "b", false},
      {"*x", "xxx", true},
      {"", "", true},
      {"", "a", false},
  };
  for (const auto& c : cases) {
    auto r = path_match(c.pattern, c.name);
    ASSERT_TRUE(r.ok()) << c.pattern;
    EXPECT_EQ(*r, c.match) << c.pattern << " vs " << c.name;
  }
}

TEST(PathMatch, BadPatterns) {
  for (const char* p :
       {"[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "[", "[^", "[^bc", "a[", "*\\", "[\xff]"}) {
    auto r = path_match(p, "a");
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.error().message().rfind("bad pattern", 0), 0u) << r.error().message();
    // Errors do not depend on whether the name could match.
    EXPECT_FALSE(path_match(p, "").ok()) << p;
  }
}

TEST(PathMatch, HasGlob) {
  EXPECT_TRUE(has_glob("*.txt"));
  EXPECT_TRUE(has_glob("a?"));
  EXPECT_TRUE(has_glob("[ab]"));
  EXPECT_FALSE(has_glob("plain/path.txt"));
  EXPECT_FALSE(has_glob(""));
}

TEST(CleanPath, GoTable) {
  struct Case {
    const char* in;
    const char* out;
  } cases[] = {
      {"", "."},
      {"abc", "abc"},
      {"abc/def", "abc/def"},
      {"a/b/c", "a/b/c"},
      {".", "."},
      {"..", ".."},
      {"../..", "../.."},
      {"../../abc", "../../abc"},
      {"/abc", "/abc"},
      {"/", "/"},
      {"abc/", "abc"},
      {"abc/def/", "abc/def"},
      {"/abc/", "/abc"},
      {"//abc", "/abc"},
      {"abc//def//ghi", "abc/def/ghi"},
      {"abc/./def", "abc/def"},
      {"/./abc/def", "/abc/def"},
      {"abc/.", "abc"},
      {"abc/def/ghi/../jkl", "abc/def/jkl"},
      {"abc/def/../ghi/../jkl", "abc/jkl"},
      {"abc/def/..", "abc"},
      {"abc/def/../..", "."},
      {"/abc/def/../..", "/"},
      {"abc/def/../../..", ".."},
      {"/abc/def/../../..", "/"},
      {"abc/def/../../../ghi/jkl/../../../mno", "../../mno"},
      {"abc/./../def", "def"},
      {"abc//./../def", "def"},
      {"abc/../../././../def", "../../def"},
      {"./", "."},
      {"...", "..."},
      {".../..", "."},
  };
  for (const auto& c : cases) EXPECT_EQ(clean_path(c.in), c.out) << c.in;
}

TEST(DockerIgnore, ExceptionOnParentDirectory) {
  auto m = parse_ok("*\n!keep\n");
  EXPECT_TRUE(m.excluded("other"));
  EXPECT_TRUE(m.excluded("other/keep"));  // "!keep" is for the root's keep only
  EXPECT_FALSE(m.excluded("keep"));
  EXPECT_FALSE(m.excluded("keep/a/b"));  // brought back through its parent
  EXPECT_FALSE(m.may_include_under("other"));
  EXPECT_TRUE(m.may_include_under("keep"));
}

TEST(DockerIgnore, SuffixShortcutMayInclude) {
  auto m = parse_ok("build\n!**.keep\n");
  EXPECT_TRUE(m.excluded("build"));
  EXPECT_TRUE(m.may_include_under("build"));
  EXPECT_FALSE(m.excluded("build/deep/x.keep"));
  EXPECT_TRUE(m.excluded("build/deep/x.drop"));
}

TEST(DockerIgnore, BackslashEscapesOnLinux) {
  auto m = parse_ok("a\\b\n\\[x]\n");
  EXPECT_TRUE(m.excluded("ab"));  // "\\b" is 'b', not a separator
  EXPECT_FALSE(m.excluded("a\\b"));
  EXPECT_TRUE(m.excluded("[x]"));
  EXPECT_FALSE(m.excluded("x"));
}

TEST(DockerIgnore, NeverMatchesOutsideTheContext) {
  auto m = parse_ok("/\n..\n../x\n");
  EXPECT_FALSE(m.excluded("x"));
  EXPECT_FALSE(m.excluded("a/b"));
  EXPECT_EQ(m.patterns()[0].text, "/");
  EXPECT_EQ(m.patterns()[1].text, "..");
}

TEST(PathMatch, WholePathAndEscapes) {
  EXPECT_TRUE(path_match("src/*.py", "src/a.py").value());
  EXPECT_FALSE(path_match("src/*.py", "src/sub/a.py").value());
  EXPECT_FALSE(path_match("*.py", "src/a.py").value());
  EXPECT_TRUE(path_match("\\[x\\]", "[x]").value());
  EXPECT_TRUE(path_match("[[]", "[").value());
  EXPECT_FALSE(path_match("[^/]", "/").value());
  EXPECT_TRUE(path_match("[^a]", "/").value());  // unlike '?', a class may match '/' (as Go)
  EXPECT_TRUE(path_match("a[/]b", "a/b").value());
}

TEST(CleanPath, HostileInputIsStable) {
  std::string junk;
  for (int i = 0; i < 2000; ++i) junk += (i % 3 == 0) ? "../" : (i % 3 == 1) ? "./" : "x//";
  std::string once = clean_path(junk);
  EXPECT_EQ(clean_path(once), once);
  EXPECT_EQ(once.find("//"), std::string::npos);
  EXPECT_EQ(clean_path(std::string(1000, '/')), "/");
  EXPECT_EQ(clean_path(std::string("a\0b/../c", 8)), "c");
}

}  // namespace
}  // namespace berth::build
