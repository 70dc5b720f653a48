// dockerfile.h - the Dockerfile parser: text -> instructions, as docker's builder reads it
// (https://docs.docker.com/reference/dockerfile/). No variable is expanded here: which
// words are expanded, and when, depends on the build (shell_lex.h does the expansion).
//
// What it understands: parser directives at the very top (`# escape=` and `# syntax=`, case
// insensitive, only before any other line, each once); comments (a line whose first
// non-blank character is '#'); line continuations with the escape character (a comment line
// or an empty line inside a continued instruction is skipped, as docker does); instruction
// keywords in any case; --flags before the arguments (`--from=x`, `--chown=a:b`,
// `--mount=type=cache,target=/x`, `--link`, `--platform=...`, `--network=none`);
// the JSON (exec) form where an instruction allows it (a valid JSON array of strings, else
// the shell form, as docker falls back; valid JSON holding a non-string, `["a", 1]`, is an
// error, as in docker); heredocs (`RUN <<EOF`, `<<-EOF` strips leading tabs,
// `<<"EOF"`/`<<'EOF'` do not expand, several per instruction) for RUN, COPY and ADD.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/error.h"

namespace berth::build {

// A heredoc body: `<<EOF` ... `EOF`.
struct Heredoc {
  std::string name;     // the delimiter word ("EOF"); for COPY it is also the file name
  std::string content;  // the lines between, each ending with '\n' (tabs stripped for <<-)
  bool expand = true;   // false when the delimiter was quoted
};

struct Instruction {
  int line = 0;           // 1-based line of the keyword
  int end_line = 0;       // last line it spans (continuations, heredocs)
  std::string keyword;    // upper case: "FROM", "RUN", "COPY", ...
  // The instruction as written, continuations joined into one line (the escape character
  // and newline removed; what `Step N/M : ...` prints, keyword in its original case).
  std::string original;
  // The --flags in order, without their leading "--": "from=build", "chown=1:1", "link".
  std::vector<std::string> flags;
  bool json = false;  // the arguments were a JSON array (exec form)
  // The arguments, per keyword (unexpanded, quotes kept where docker keeps them):
  //  - JSON form: the array's strings.
  //  - RUN, CMD, ENTRYPOINT, HEALTHCHECK's CMD in shell form: one element, the rest of the
  //    line after the flags.
  //  - FROM: the words ("image", or "image", "AS", "name"), whitespace separated.
  //  - COPY, ADD, VOLUME, EXPOSE, USER, WORKDIR, STOPSIGNAL, MAINTAINER, ARG (shell form):
  //    whitespace-separated words; WORKDIR, USER, STOPSIGNAL, MAINTAINER: one element, the
  //    rest of the line, trimmed.
  //  - ENV, LABEL: pairs in `kv`, args empty. ARG: names or name=default words in args.
  //  - SHELL: only the JSON form is accepted.
  std::vector<std::string> args;
  // ENV and LABEL: name/value pairs. `ENV A=1 B="x y"` -> {A,1},{B,"x y"} with the value's
  // quotes kept (the expansion removes them, as docker does); the legacy form `ENV A x y`
  // -> {A, "x y"}.
  std::vector<std::pair<std::string, std::string>> kv;
  std::vector<Heredoc> heredocs;  // RUN/COPY/ADD heredocs, in order
  // ONBUILD: the instruction it wraps (keyword, flags, args... parsed the same way), and
  // args == {the trigger's text as docker stores it in the image's OnBuild list: the line
  // after "ONBUILD ", then "\n" + body + delimiter for each heredoc};
  // HEALTHCHECK CMD: the check command is in `args` (json or one shell string) and the
  // options (--interval=...) in `flags`; HEALTHCHECK NONE: args == {"NONE"}.
  std::vector<Instruction> sub;
};

struct Dockerfile {
  char escape = '\\';  // `# escape=` (backslash or backtick)
  std::string syntax;  // `# syntax=` (accepted; berth always uses its own builder)
  std::vector<Instruction> instructions;  // everything, ARGs before the first FROM included
};

// Errors are one line and name the line: "Dockerfile line 7: unknown instruction: RUNN",
// "Dockerfile line 3: unterminated heredoc <<EOF", "no FROM instruction" (the file has
// only ARGs), "Dockerfile line 1: no FROM instruction before RUN" (an instruction other
// than ARG comes before the first FROM), "Dockerfile line 2: unknown flag: --form" (each
// instruction takes docker's flags only), "Dockerfile line 1: invalid escape token 'x'
// does not match ` or \",
// "Dockerfile line 2: ENV names can not be blank", "the Dockerfile is empty",
// "Dockerfile line 4: SHELL requires the arguments to be in JSON form",
// "Dockerfile line 9: HEALTHCHECK requires at least one argument",
// "Dockerfile line 5: FROM requires either one or three arguments",
// "Dockerfile line 6: ONBUILD ONBUILD is not allowed" (also FROM and MAINTAINER under it).
// Other argument errors use docker's wording ("COPY requires at least two arguments, ...").
// `name` is what errors call the file ("Dockerfile", or the -f path); an empty file with a
// name other than "Dockerfile" is "the Dockerfile NAME is empty".
Result<Dockerfile> parse_dockerfile(std::string_view text, std::string_view name = "Dockerfile");

// The instructions docker knows, upper case.
bool is_known_instruction(std::string_view keyword_upper);

}  // namespace berth::build
