// shell_lex.h - variable substitution in Dockerfile words, with docker's rules (not a
// shell's): $VAR and ${VAR}; ${VAR:-word} ${VAR-word} (default), ${VAR:+word} ${VAR+word}
// (alternative), ${VAR:?msg} ${VAR?msg} (error); the escape character escapes '$', quotes
// and itself; single quotes stop expansion, double quotes keep it; quotes are removed from
// the result; an unset variable expands to "". The escape character is '\\' or '`'
// (`# escape=`). Only the variables given are seen (the build's ENV and ARGs in scope),
// never the process environment.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace berth::build {

using Vars = std::map<std::string, std::string, std::less<>>;

// One word, expanded and unquoted: what ENV values, LABEL, WORKDIR, USER, COPY paths... get.
// "a\ b" -> "a b"; "'$X'" -> "$X"; "${X:-d}" -> value or "d".
// Errors (one line): "missing '}' in '${X'", "bad substitution: '${X:%}'",
// "X: message" for ${X:?message} when X is unset or empty.
Result<std::string> expand_word(std::string_view word, const Vars& vars, char escape = '\\');

// A line expanded then split into words at unquoted whitespace (what EXPOSE, VOLUME and
// FROM's arguments get, and ARG's name=value list), as docker's ProcessWords: `a "b c" $X`
// -> {"a", "b c", then X's value split at its whitespace (an unquoted variable's value is
// split, a quoted one is not)}.
Result<std::vector<std::string>> expand_words(std::string_view line, const Vars& vars,
                                              char escape = '\\');

// The names of the variables a word uses (for the build cache: which ARGs a step depends
// on). Never fails; a malformed word yields what could be read.
std::vector<std::string> referenced_vars(std::string_view word, char escape = '\\');

}  // namespace berth::build
