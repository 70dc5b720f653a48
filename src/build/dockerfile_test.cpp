// dockerfile_test.cpp - the Dockerfile parser against docker's rules: every instruction form,
// directives, continuations, JSON and shell forms, heredocs, and the exact error messages.
#include "build/dockerfile.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace berth::build {
namespace {

using Strings = std::vector<std::string>;
using Pairs = std::vector<std::pair<std::string, std::string>>;

Dockerfile parse_ok(std::string_view text) {
  auto r = parse_dockerfile(text);
  EXPECT_TRUE(r.ok()) << r.error().message() << "\nin:\n" << text;
  return r.ok() ? r.value() : Dockerfile{};
}

// The one instruction after `FROM scratch`.
Instruction second(std::string_view body) {
  auto df = parse_ok("FROM scratch\n" + std::string(body));
  EXPECT_EQ(df.instructions.size(), 2u) << body;
  return df.instructions.size() == 2 ? df.instructions[1] : Instruction{};
}

std::string error_of(std::string_view text, std::string_view name = "Dockerfile") {
  auto r = parse_dockerfile(text, name);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? std::string() : r.error().message();
}

TEST(Dockerfile, SimpleFileWithLines) {
  auto df = parse_ok("FROM alpine:3.19\n\nRUN echo hi\nCMD [\"sh\"]\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.escape, '\\');
  EXPECT_EQ(df.instructions[0].keyword, "FROM");
  EXPECT_EQ(df.instructions[0].args, Strings{"alpine:3.19"});
  EXPECT_EQ(df.instructions[0].line, 1);
  EXPECT_EQ(df.instructions[1].line, 3);
  EXPECT_EQ(df.instructions[1].end_line, 3);
  EXPECT_EQ(df.instructions[2].line, 4);
}

TEST(Dockerfile, KeywordsAnyCaseOriginalKept) {
  auto df = parse_ok("from alpine\nrUn echo hi\n");
  EXPECT_EQ(df.instructions[0].keyword, "FROM");
  EXPECT_EQ(df.instructions[1].keyword, "RUN");
  EXPECT_EQ(df.instructions[1].original, "rUn echo hi");
}

TEST(Dockerfile, FromForms) {
  auto df = parse_ok("FROM --platform=linux/amd64 golang:1.22 AS Build\nFROM build as final\n");
  EXPECT_EQ(df.instructions[0].flags, Strings{"platform=linux/amd64"});
  EXPECT_EQ(df.instructions[0].args, (Strings{"golang:1.22", "AS", "Build"}));
  EXPECT_EQ(df.instructions[1].args, (Strings{"build", "as", "final"}));
}

TEST(Dockerfile, FromErrors) {
  EXPECT_EQ(error_of("FROM a b\n"),
            "Dockerfile line 1: FROM requires either one or three arguments");
  EXPECT_EQ(error_of("FROM\n"), "Dockerfile line 1: FROM requires either one or three arguments");
  EXPECT_EQ(error_of("FROM a TO b\n"),
            "Dockerfile line 1: FROM requires either one or three arguments");
  EXPECT_EQ(error_of("FROM a AS 1st\n"),
            "Dockerfile line 1: invalid name for build stage: \"1st\", name can't start with a "
            "number or contain symbols");
  EXPECT_EQ(error_of("FROM a AS x$y\n"),
            "Dockerfile line 1: invalid name for build stage: \"x$y\", name can't start with a "
            "number or contain symbols");
}

TEST(Dockerfile, RunShellAndExecForms) {
  auto shell = second("RUN --mount=type=cache,target=/root/.cache  pip install -r req.txt  \n");
  EXPECT_FALSE(shell.json);
  EXPECT_EQ(shell.flags, Strings{"mount=type=cache,target=/root/.cache"});
  EXPECT_EQ(shell.args, Strings{"pip install -r req.txt"});
  auto exec = second("RUN [\"/bin/sh\", \"-c\", \"echo \\\"x\\\"\"]\n");
  EXPECT_TRUE(exec.json);
  EXPECT_EQ(exec.args, (Strings{"/bin/sh", "-c", "echo \"x\""}));
}

TEST(Dockerfile, RunFlagsAllKnownOnesAndRepeatedMount) {
  auto in = second(
      "RUN --network=none --security=insecure --mount=type=bind --mount=type=tmpfs "
      "true\n");
  EXPECT_EQ(in.flags,
            (Strings{"network=none", "security=insecure", "mount=type=bind", "mount=type=tmpfs"}));
  EXPECT_EQ(in.args, Strings{"true"});
}

TEST(Dockerfile, FlagQuotesRemovedAndDoubleDashEndsFlags) {
  auto in = second("COPY --chown=\"app user\":app -- --weird /dst\n");
  EXPECT_EQ(in.flags, Strings{"chown=app user:app"});
  EXPECT_EQ(in.args, (Strings{"--weird", "/dst"}));
}

TEST(Dockerfile, JsonFallsBackToShellForm) {
  struct Case {
    const char* line;
    bool json;
    Strings args;
  } cases[] = {
      {"CMD [\"a\", \"b\"]", true, {"a", "b"}},
      {"CMD []", true, {}},
      {"CMD [ \"a\" ]  ", true, {"a"}},
      {"CMD [a, b]", false, {"[a, b]"}},
      {"CMD [\"a\"] && b", false, {"[\"a\"] && b"}},
      {"CMD [\"a\"", false, {"[\"a\""}},
      {"CMD echo [\"a\"]", false, {"echo [\"a\"]"}},
      {"ENTRYPOINT [\"/entry.sh\"]", true, {"/entry.sh"}},
      {"ENTRYPOINT exec top -b", false, {"exec top -b"}},
      {"CMD", false, {}},
  };
  for (const auto& c : cases) {
    auto in = second(std::string(c.line) + "\n");
    EXPECT_EQ(in.json, c.json) << c.line;
    EXPECT_EQ(in.args, c.args) << c.line;
  }
}

TEST(Dockerfile, JsonArrayOfNonStringsIsAnErrorAsInDocker) {
  // docker: valid JSON that is not all strings is refused, not taken as the shell form.
  for (const char* line : {"CMD [\"a\", 1]", "RUN [null]", "COPY [\"a\", [\"b\"]]",
                           "ENTRYPOINT [{\"a\": \"b\"}]", "VOLUME [true]"}) {
    EXPECT_EQ(error_of("FROM x\n" + std::string(line) + "\n"),
              "Dockerfile line 2: when using JSON array syntax, arrays must be comprised of "
              "strings only")
        << line;
  }
}

TEST(Dockerfile, DeeplyNestedJsonDoesNotRecurse) {
  std::string deep(200000, '[');
  auto in = second("CMD " + deep + "\n");  // invalid JSON: the shell form
  EXPECT_FALSE(in.json);
  std::string nested = "CMD [\"a\", " + std::string(100000, '[') + std::string(100000, ']') + "]";
  EXPECT_EQ(error_of("FROM x\n" + nested + "\n"),
            "Dockerfile line 2: when using JSON array syntax, arrays must be comprised of "
            "strings only");
}

TEST(Dockerfile, CopyAndAdd) {
  auto copy = second("COPY --from=build --chmod=0755 --link /out/app /usr/bin/ \n");
  EXPECT_EQ(copy.flags, (Strings{"from=build", "chmod=0755", "link"}));
  EXPECT_EQ(copy.args, (Strings{"/out/app", "/usr/bin/"}));
  auto json = second("COPY [\"my file\", \"/dst dir/\"]\n");
  EXPECT_TRUE(json.json);
  EXPECT_EQ(json.args, (Strings{"my file", "/dst dir/"}));
  auto add = second(
      "ADD --checksum=sha256:abc --keep-git-dir=true --exclude=*.md --exclude=*.txt "
      "https://x/y.tar.gz /src\n");
  EXPECT_EQ(add.flags,
            (Strings{"checksum=sha256:abc", "keep-git-dir=true", "exclude=*.md", "exclude=*.txt"}));
  EXPECT_EQ(add.args, (Strings{"https://x/y.tar.gz", "/src"}));
  auto parents = second("COPY --parents=false a/b c\n");
  EXPECT_EQ(parents.flags, Strings{"parents=false"});
}

TEST(Dockerfile, CopyErrors) {
  EXPECT_EQ(error_of("FROM x\nCOPY a\n"),
            "Dockerfile line 2: COPY requires at least two arguments, but only one was provided. "
            "Destination could not be determined");
  EXPECT_EQ(error_of("FROM x\nADD\n"),
            "Dockerfile line 2: ADD requires at least two arguments, but only one was provided. "
            "Destination could not be determined");
  EXPECT_EQ(error_of("FROM x\nCOPY a <<EOF\nx\nEOF\n"),
            "Dockerfile line 2: COPY cannot accept a heredoc as a destination");
}

TEST(Dockerfile, FlagValidation) {
  struct Case {
    const char* line;
    const char* error;
  } cases[] = {
      {"COPY --form=x a b", "unknown flag: --form"},
      {"ADD --from=x a b", "unknown flag: --from"},
      {"RUN --platform=x true", "unknown flag: --platform"},
      {"ENV --x=1 A=b", "unknown flag: --x"},
      {"WORKDIR --x /a", "unknown flag: --x"},
      {"HEALTHCHECK --foo=1 CMD true", "unknown flag: --foo"},
      {"COPY --from=a --from=b a b", "duplicate flag specified: --from"},
      {"COPY --link --link a b", "duplicate flag specified: --link"},
      {"COPY --from a b", "missing a value on flag: --from"},
      {"COPY --link= a b", "missing a value on flag: --link"},
      {"COPY --link=yes a b", "expecting boolean value for flag --link, not: yes"},
      {"RUN --network true", "missing a value on flag: --network"},
  };
  for (const auto& c : cases)
    EXPECT_EQ(error_of("FROM x\n" + std::string(c.line) + "\n"),
              "Dockerfile line 2: " + std::string(c.error))
        << c.line;
  EXPECT_EQ(second("COPY --link=TRUE a b\n").flags, Strings{"link=TRUE"});
}

TEST(Dockerfile, EnvNewFormKeepsQuotes) {
  auto in = second("ENV A=1 B=\"x y\" C='a b' D=a\\ b E= F=\"\"\n");
  EXPECT_EQ(
      in.kv,
      (Pairs{
          {"A", "1"}, {"B", "\"x y\""}, {"C", "'a b'"}, {"D", "a\\ b"}, {"E", ""}, {"F", "\"\""}}));
  EXPECT_TRUE(in.args.empty());
}

TEST(Dockerfile, EnvLegacyForm) {
  EXPECT_EQ(second("ENV PATH /usr/local/bin:$PATH\n").kv,
            (Pairs{{"PATH", "/usr/local/bin:$PATH"}}));
  EXPECT_EQ(second("ENV MSG   hello   \"big\" world\n").kv,
            (Pairs{{"MSG", "hello   \"big\" world"}}));
  EXPECT_EQ(second("LABEL description This is a label\n").kv,
            (Pairs{{"description", "This is a label"}}));
}

TEST(Dockerfile, EnvValueWithEqualsAndEscapedSpace) {
  EXPECT_EQ(second("ENV OPTS=--a=b\n").kv, (Pairs{{"OPTS", "--a=b"}}));
  EXPECT_EQ(second("ENV A=\"x\\\"y\" B=z\n").kv, (Pairs{{"A", "\"x\\\"y\""}, {"B", "z"}}));
}

TEST(Dockerfile, EnvErrors) {
  EXPECT_EQ(error_of("FROM x\nENV =1\n"), "Dockerfile line 2: ENV names can not be blank");
  EXPECT_EQ(error_of("FROM x\nENV\n"), "Dockerfile line 2: ENV requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nENV A\n"), "Dockerfile line 2: ENV must have two arguments");
  EXPECT_EQ(error_of("FROM x\nENV A=1 B\n"),
            "Dockerfile line 2: Syntax error - can't find = in \"B\". Must be of the form: "
            "name=value");
  EXPECT_EQ(error_of("FROM x\nLABEL =x\n"), "Dockerfile line 2: LABEL names can not be blank");
  EXPECT_EQ(error_of("FROM x\nLABEL\n"), "Dockerfile line 2: LABEL requires at least one argument");
}

TEST(Dockerfile, LabelSeveralAndQuotedKeys) {
  auto in =
      second("LABEL org.opencontainers.image.title=\"My App\" version=1.0 \"com.x.y\"=\"z\"\n");
  EXPECT_EQ(in.kv, (Pairs{{"org.opencontainers.image.title", "\"My App\""},
                          {"version", "1.0"},
                          {"\"com.x.y\"", "\"z\""}}));
}

TEST(Dockerfile, ArgForms) {
  auto df = parse_ok("ARG VERSION=1.2 DEBUG\nARG EMPTY=\nFROM img:${VERSION}\nARG VERSION\n");
  ASSERT_EQ(df.instructions.size(), 4u);
  EXPECT_EQ(df.instructions[0].args, (Strings{"VERSION=1.2", "DEBUG"}));
  EXPECT_EQ(df.instructions[1].args, Strings{"EMPTY="});
  EXPECT_EQ(df.instructions[2].args, Strings{"img:${VERSION}"});
  EXPECT_EQ(df.instructions[3].args, Strings{"VERSION"});
  EXPECT_EQ(second("ARG MSG=\"hello world\"\n").args, Strings{"MSG=\"hello world\""});
  EXPECT_EQ(error_of("FROM x\nARG\n"), "Dockerfile line 2: ARG requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nARG =v\n"), "Dockerfile line 2: ARG names can not be blank");
}

TEST(Dockerfile, OneArgumentInstructions) {
  EXPECT_EQ(second("WORKDIR   /my app  \n").args, Strings{"/my app"});
  EXPECT_EQ(second("USER app:app\n").args, Strings{"app:app"});
  EXPECT_EQ(second("STOPSIGNAL SIGKILL\n").args, Strings{"SIGKILL"});
  EXPECT_EQ(second("MAINTAINER Jane Doe <jane@x.org>\n").args, Strings{"Jane Doe <jane@x.org>"});
  for (const char* kw : {"WORKDIR", "USER", "STOPSIGNAL", "MAINTAINER"})
    EXPECT_EQ(error_of("FROM x\n" + std::string(kw) + "\n"),
              "Dockerfile line 2: " + std::string(kw) + " requires exactly one argument");
}

TEST(Dockerfile, ExposeAndVolume) {
  EXPECT_EQ(second("EXPOSE 80/tcp\t443  53/udp\n").args, (Strings{"80/tcp", "443", "53/udp"}));
  EXPECT_EQ(second("VOLUME /data /logs\n").args, (Strings{"/data", "/logs"}));
  auto json = second("VOLUME [\"/data\"]\n");
  EXPECT_TRUE(json.json);
  EXPECT_EQ(json.args, Strings{"/data"});
  EXPECT_EQ(error_of("FROM x\nEXPOSE\n"),
            "Dockerfile line 2: EXPOSE requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nVOLUME\n"),
            "Dockerfile line 2: VOLUME requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nVOLUME [\" \"]\n"),
            "Dockerfile line 2: VOLUME specified can not be an empty string");
}

TEST(Dockerfile, ShellMustBeJson) {
  auto in = second("SHELL [\"powershell\", \"-command\"]\n");
  EXPECT_TRUE(in.json);
  EXPECT_EQ(in.args, (Strings{"powershell", "-command"}));
  EXPECT_EQ(error_of("FROM x\n\n\nSHELL /bin/bash -c\n"),
            "Dockerfile line 4: SHELL requires the arguments to be in JSON form");
  EXPECT_EQ(error_of("FROM x\nSHELL []\n"),
            "Dockerfile line 2: SHELL requires at least one argument");
}

TEST(Dockerfile, HealthcheckForms) {
  auto cmd = second("HEALTHCHECK --interval=5m --timeout=3s --retries=3 CMD curl -f http://x/\n");
  EXPECT_EQ(cmd.flags, (Strings{"interval=5m", "timeout=3s", "retries=3"}));
  EXPECT_FALSE(cmd.json);
  EXPECT_EQ(cmd.args, Strings{"curl -f http://x/"});
  auto exec =
      second("HEALTHCHECK --start-period=1s --start-interval=2s cmd [\"/check\", \"-q\"]\n");
  EXPECT_TRUE(exec.json);
  EXPECT_EQ(exec.args, (Strings{"/check", "-q"}));
  auto none = second("HEALTHCHECK none\n");
  EXPECT_EQ(none.args, Strings{"NONE"});
  EXPECT_FALSE(none.json);
}

TEST(Dockerfile, HealthcheckErrors) {
  EXPECT_EQ(error_of("FROM x\n\n\n\n\n\n\n\nHEALTHCHECK\n"),
            "Dockerfile line 9: HEALTHCHECK requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK NONE x\n"),
            "Dockerfile line 2: HEALTHCHECK NONE takes no arguments");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK CMD\n"),
            "Dockerfile line 2: Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK CMD []\n"),
            "Dockerfile line 2: Missing command after HEALTHCHECK CMD");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK RUN true\n"),
            "Dockerfile line 2: Unknown type \"RUN\" in HEALTHCHECK (try CMD)");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK --retries=-1 CMD true\n"),
            "Dockerfile line 2: --retries cannot be negative (-1)");
  EXPECT_EQ(error_of("FROM x\nHEALTHCHECK --retries=many CMD true\n"),
            "Dockerfile line 2: invalid value for --retries: \"many\"");
}

TEST(Dockerfile, Onbuild) {
  auto in = second("ONBUILD  RUN --mount=type=cache,target=/x make\n");
  EXPECT_EQ(in.keyword, "ONBUILD");
  EXPECT_EQ(in.args, Strings{"RUN --mount=type=cache,target=/x make"});
  ASSERT_EQ(in.sub.size(), 1u);
  EXPECT_EQ(in.sub[0].keyword, "RUN");
  EXPECT_EQ(in.sub[0].flags, Strings{"mount=type=cache,target=/x"});
  EXPECT_EQ(in.sub[0].args, Strings{"make"});
  EXPECT_EQ(in.sub[0].line, 2);
  auto env = second("onbuild env A=1\n");
  ASSERT_EQ(env.sub.size(), 1u);
  EXPECT_EQ(env.sub[0].kv, (Pairs{{"A", "1"}}));
  auto copy = second("ONBUILD COPY [\"a\", \"b\"]\n");
  EXPECT_TRUE(copy.sub[0].json);
  EXPECT_FALSE(copy.json);
}

TEST(Dockerfile, OnbuildErrors) {
  EXPECT_EQ(error_of("FROM x\n\n\n\n\nONBUILD ONBUILD RUN x\n"),
            "Dockerfile line 6: ONBUILD ONBUILD is not allowed");
  EXPECT_EQ(error_of("FROM x\nONBUILD from y\n"), "Dockerfile line 2: ONBUILD FROM is not allowed");
  EXPECT_EQ(error_of("FROM x\nONBUILD MAINTAINER y\n"),
            "Dockerfile line 2: ONBUILD MAINTAINER is not allowed");
  EXPECT_EQ(error_of("FROM x\nONBUILD\n"),
            "Dockerfile line 2: ONBUILD requires at least one argument");
  EXPECT_EQ(error_of("FROM x\nONBUILD RUNN y\n"), "Dockerfile line 2: unknown instruction: RUNN");
  EXPECT_EQ(error_of("FROM x\nONBUILD COPY --bad a b\n"), "Dockerfile line 2: unknown flag: --bad");
  EXPECT_EQ(error_of("FROM x\nONBUILD --x RUN y\n"), "Dockerfile line 2: unknown flag: --x");
}

TEST(Dockerfile, Continuations) {
  auto df = parse_ok("FROM x\nRUN apt-get update && \\\n    apt-get install x\nUSER a\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[1].original, "RUN apt-get update &&     apt-get install x");
  EXPECT_EQ(df.instructions[1].args, Strings{"apt-get update &&     apt-get install x"});
  EXPECT_EQ(df.instructions[1].line, 2);
  EXPECT_EQ(df.instructions[1].end_line, 3);
  EXPECT_EQ(df.instructions[2].line, 4);
}

TEST(Dockerfile, ContinuationSkipsCommentsAndEmptyLines) {
  auto df = parse_ok(
      "FROM x\n"
      "RUN a \\\n"
      "# a comment inside\n"
      "\n"
      "   \t\n"
      "    # indented comment\n"
      "  && b \\  \t\n"
      "  && c\n"
      "CMD d\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[1].args, Strings{"a   && b   && c"});
  EXPECT_EQ(df.instructions[1].end_line, 8);
  EXPECT_EQ(df.instructions[2].line, 9);
}

TEST(Dockerfile, ContinuationAtEndOfFileAndKeywordSplit) {
  auto df = parse_ok("FROM \\\n  x\nRUN a \\");
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[0].args, Strings{"x"});
  EXPECT_EQ(df.instructions[1].args, Strings{"a"});
  EXPECT_EQ(df.instructions[1].end_line, 3);
}

TEST(Dockerfile, EscapeDirectiveBacktickWindowsPaths) {
  auto df = parse_ok(
      "# escape=`\n"
      "\n"
      "FROM mcr.microsoft.com/windows/servercore\n"
      "COPY testfile.txt c:\\\n"
      "RUN dir c:\\ `\n"
      "    /s\n"
      "ENV P=c:\\a`\"b\n");
  EXPECT_EQ(df.escape, '`');
  ASSERT_EQ(df.instructions.size(), 4u);
  EXPECT_EQ(df.instructions[1].args, (Strings{"testfile.txt", "c:\\"}));
  EXPECT_EQ(df.instructions[2].args, Strings{"dir c:\\     /s"});
  EXPECT_EQ(df.instructions[2].end_line, 6);
  EXPECT_EQ(df.instructions[3].kv, (Pairs{{"P", "c:\\a`\"b"}}));
}

TEST(Dockerfile, DirectivesOnlyAtTheTop) {
  auto df = parse_ok("# Syntax = docker/dockerfile:1.7\n#ESCAPE=\\\nFROM x\n");
  EXPECT_EQ(df.syntax, "docker/dockerfile:1.7");
  // After a comment, an empty line or an instruction, a directive is just a comment.
  EXPECT_EQ(parse_ok("# hello\n# escape=`\nFROM x\nRUN a `\n").escape, '\\');
  EXPECT_EQ(parse_ok("\n# escape=`\nFROM x\n").escape, '\\');
  EXPECT_EQ(parse_ok("FROM x\n# escape=`\n").escape, '\\');
  // An unknown directive ends them too.
  EXPECT_EQ(parse_ok("# foo=bar\n# escape=`\nFROM x\n").escape, '\\');
  // A leading BOM is not part of the first line.
  EXPECT_EQ(parse_ok("\xEF\xBB\xBF# escape=`\nFROM x\n").escape, '`');
  EXPECT_EQ(parse_ok("\xEF\xBB\xBF"
                     "FROM x\n")
                .instructions[0]
                .keyword,
            "FROM");
}

TEST(Dockerfile, DirectiveErrors) {
  EXPECT_EQ(error_of("# escape=x\nFROM x\n"),
            "Dockerfile line 1: invalid escape token 'x' does not match ` or \\");
  EXPECT_EQ(error_of("# syntax=a\n# escape=`\n# escape=`\nFROM x\n"),
            "Dockerfile line 3: only one escape parser directive can be used");
  EXPECT_EQ(error_of("# syntax=a\n# syntax=b\nFROM x\n"),
            "Dockerfile line 2: only one syntax parser directive can be used");
}

TEST(Dockerfile, CrlfLineEndings) {
  auto df = parse_ok("# escape=`\r\nFROM x\r\nRUN a `\r\n  b\r\nENV A=1\r\n");
  EXPECT_EQ(df.escape, '`');
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[0].args, Strings{"x"});
  EXPECT_EQ(df.instructions[1].args, Strings{"a   b"});
  EXPECT_EQ(df.instructions[2].kv, (Pairs{{"A", "1"}}));
  auto h = parse_ok("FROM x\r\nRUN <<EOF\r\necho hi\r\nEOF\r\n").instructions[1];
  ASSERT_EQ(h.heredocs.size(), 1u);
  EXPECT_EQ(h.heredocs[0].content, "echo hi\n");
}

TEST(Dockerfile, CommentsAnywhere) {
  auto df = parse_ok("  # lead\nFROM x\n\t# indented\nRUN echo # kept\n");
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[1].args, Strings{"echo # kept"});
  EXPECT_EQ(df.instructions[1].line, 4);
  EXPECT_EQ(error_of("FROM x # not a comment\n"),
            "Dockerfile line 1: FROM requires either one or three arguments");
}

TEST(Dockerfile, HeredocRun) {
  auto df = parse_ok(
      "FROM x\n"
      "RUN <<EOF\n"
      "set -e\n"
      "echo \"$HOME\"\n"
      "EOF\n"
      "CMD a\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  const auto& run = df.instructions[1];
  EXPECT_EQ(run.args, Strings{"<<EOF"});
  ASSERT_EQ(run.heredocs.size(), 1u);
  EXPECT_EQ(run.heredocs[0].name, "EOF");
  EXPECT_EQ(run.heredocs[0].content, "set -e\necho \"$HOME\"\n");
  EXPECT_TRUE(run.heredocs[0].expand);
  EXPECT_EQ(run.line, 2);
  EXPECT_EQ(run.end_line, 5);
  EXPECT_EQ(df.instructions[2].line, 6);
}

TEST(Dockerfile, HeredocWithCommandAndSeveral) {
  auto in = second(
      "RUN python3 <<PY && bash <<'SH' 3<<-\"END\"\n"
      "print('x')\n"
      "PY\n"
      "echo $X\n"
      "SH\n"
      "\t\tindented\n"
      "\tEND\n");
  EXPECT_EQ(in.args, Strings{"python3 <<PY && bash <<'SH' 3<<-\"END\""});
  ASSERT_EQ(in.heredocs.size(), 3u);
  EXPECT_EQ(in.heredocs[0].name, "PY");
  EXPECT_EQ(in.heredocs[0].content, "print('x')\n");
  EXPECT_TRUE(in.heredocs[0].expand);
  EXPECT_EQ(in.heredocs[1].name, "SH");
  EXPECT_EQ(in.heredocs[1].content, "echo $X\n");
  EXPECT_FALSE(in.heredocs[1].expand);
  EXPECT_EQ(in.heredocs[2].name, "END");
  EXPECT_EQ(in.heredocs[2].content, "indented\n");
  EXPECT_FALSE(in.heredocs[2].expand);
  EXPECT_EQ(in.end_line, 8);
}

TEST(Dockerfile, HeredocCopyAndBlankAndCommentLinesInBody) {
  auto in = second(
      "COPY --chmod=755 <<EOF /usr/local/bin/run.sh\n"
      "#!/bin/sh\n"
      "\n"
      "  # stays\n"
      "EOF \n"
      "EOF\n");
  EXPECT_EQ(in.args, (Strings{"<<EOF", "/usr/local/bin/run.sh"}));
  ASSERT_EQ(in.heredocs.size(), 1u);
  EXPECT_EQ(in.heredocs[0].content, "#!/bin/sh\n\n  # stays\nEOF \n");
}

TEST(Dockerfile, NotHeredocs) {
  // Quoted "<<EOF", here-strings and `<< EOF` are no heredocs; nor is the JSON form.
  EXPECT_TRUE(second("RUN echo \"<<EOF\"\n").heredocs.empty());
  EXPECT_TRUE(second("RUN cat <<<word\n").heredocs.empty());
  EXPECT_TRUE(second("RUN cat << EOF\n").heredocs.empty());
  EXPECT_TRUE(second("RUN cat<<EOF\n").heredocs.empty());
  EXPECT_TRUE(second("RUN [\"cat\", \"<<EOF\"]\n").heredocs.empty());
  // Nor in instructions that do not take them.
  EXPECT_EQ(second("LABEL a=<<EOF\n").kv, (Pairs{{"a", "<<EOF"}}));
}

TEST(Dockerfile, HeredocUnderOnbuild) {
  auto in = second("ONBUILD RUN <<EOF\necho hi\nEOF\n");
  ASSERT_EQ(in.sub.size(), 1u);
  ASSERT_EQ(in.sub[0].heredocs.size(), 1u);
  EXPECT_EQ(in.sub[0].heredocs[0].content, "echo hi\n");
  EXPECT_EQ(in.args, Strings{"RUN <<EOF\necho hi\nEOF"});
  EXPECT_EQ(in.end_line, 4);
}

TEST(Dockerfile, HeredocErrors) {
  EXPECT_EQ(error_of("FROM x\nRUN <<EOF\necho\n"), "Dockerfile line 2: unterminated heredoc <<EOF");
  EXPECT_EQ(error_of("FROM x\nRUN <<A <<B\nA\nb\n"), "Dockerfile line 2: unterminated heredoc <<B");
  // Without <<-, a tab-indented delimiter does not end the body.
  EXPECT_EQ(error_of("FROM x\nRUN <<EOF\n\tEOF\n"),
            "Dockerfile line 2: unterminated heredoc <<EOF");
}

TEST(Dockerfile, UnknownInstruction) {
  EXPECT_EQ(error_of("FROM x\n\n\n\n\n\nRUNN echo\n"),
            "Dockerfile line 7: unknown instruction: RUNN");
  EXPECT_EQ(error_of("FROM x\ncopyy a b\n"), "Dockerfile line 2: unknown instruction: copyy");
  // Control bytes and huge words are escaped and cut: the error stays one short line.
  std::string msg = error_of("FROM x\n\x1b[31m" + std::string(10000, 'A') + "\n");
  EXPECT_EQ(msg.find('\x1b'), std::string::npos);
  EXPECT_LT(msg.size(), 200u);
}

TEST(Dockerfile, MissingFrom) {
  EXPECT_EQ(error_of("RUN echo\n"), "Dockerfile line 1: no FROM instruction before RUN");
  EXPECT_EQ(error_of("ARG A=1\n# c\nENV B=2\nFROM x\n"),
            "Dockerfile line 3: no FROM instruction before ENV");
  EXPECT_EQ(error_of("ARG A=1\nARG B\n"), "no FROM instruction");
}

TEST(Dockerfile, EmptyFiles) {
  for (const char* text : {"", "\n\n", "# only a comment\n", "  \t\n# escape=`\n", "\xEF\xBB\xBF"})
    EXPECT_EQ(error_of(text), "the Dockerfile is empty") << text;
  EXPECT_EQ(error_of("", "ci/Dockerfile.dev"), "the Dockerfile ci/Dockerfile.dev is empty");
  EXPECT_EQ(error_of("FROM x\nRUNN\n", "ci/Dockerfile.dev"),
            "ci/Dockerfile.dev line 2: unknown instruction: RUNN");
}

TEST(Dockerfile, HostileBytesDoNotCrash) {
  std::string nul("FROM x\nRUN a\0b\nENV A=\0\n", 22);
  auto df = parse_dockerfile(nul);
  ASSERT_TRUE(df.ok()) << df.error().message();
  EXPECT_EQ(df->instructions[1].args[0], std::string("a\0b", 3));
  std::string huge = "FROM x\nRUN " + std::string(1 << 20, 'x') + "\n";
  EXPECT_TRUE(parse_dockerfile(huge).ok());
  std::string many_heredocs = "FROM x\nRUN";
  for (int i = 0; i < 2000; ++i) many_heredocs += " <<E" + std::to_string(i);
  many_heredocs += "\n";
  for (int i = 0; i < 2000; ++i) many_heredocs += "E" + std::to_string(i) + "\n";
  auto h = parse_dockerfile(many_heredocs);
  ASSERT_TRUE(h.ok()) << h.error().message();
  EXPECT_EQ(h->instructions[1].heredocs.size(), 2000u);
  std::string conts = "FROM x\nRUN a";
  for (int i = 0; i < 100000; ++i) conts += " \\\n#\n";
  EXPECT_TRUE(parse_dockerfile(conts).ok());
  EXPECT_FALSE(parse_dockerfile("\\").ok());
  EXPECT_FALSE(parse_dockerfile(std::string(3, '\0')).ok());
}

TEST(Dockerfile, KnownInstructions) {
  for (const char* k :
       {"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
        "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})
    EXPECT_TRUE(is_known_instruction(k)) << k;
  EXPECT_FALSE(is_known_instruction("run"));
  EXPECT_FALSE(is_known_instruction("RUNN"));
  EXPECT_FALSE(is_known_instruction(""));
}

}  // namespace
}  // namespace berth::build
