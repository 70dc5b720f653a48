// require.cpp - see require.h.
#include "gpu/require.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "base/strings.h"

namespace berth::gpu {
namespace {

// Longest first, so "<=" is not read as "<" followed by a value "=...".
constexpr std::array<std::string_view, 6> kOperators{"!=", "<=", ">=", "=", "<", ">"};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::vector<std::string_view> fields(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && is_space(s[i])) ++i;
    size_t b = i;
    while (i < s.size() && !is_space(s[i])) ++i;
    if (i > b) out.push_back(s.substr(b, i - b));
  }
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Digits separated by single dots: "12", "12.4", "550.54.15".
bool is_version(std::string_view v) {
  if (v.empty() || v.front() == '.' || v.back() == '.') return false;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '.' && v[i + 1] == '.') return false;  // back() is no dot, so i + 1 is in range
    if (v[i] != '.' && !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return true;
}

Error term_error(std::string_view term, std::string why) {
  return Error::invalid("invalid requirement term \"" + std::string(term) +
                        "\": " + std::move(why));
}

Result<RequireTerm> parse_term(std::string_view text) {
  if (text.empty()) return Error::invalid("empty requirement term");
  size_t k = 0;
  while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
  RequireTerm t{lower(text.substr(0, k)), "", ""};
  if (t.key != "cuda" && t.key != "driver" && t.key != "arch" && t.key != "brand")
    return term_error(text, "unknown key '" + std::string(text.substr(0, k)) + "'");
  std::string_view rest = text.substr(k);
  for (auto op : kOperators) {
    if (rest.starts_with(op)) {
      t.op = std::string(op);
      break;
    }
  }
  if (t.op.empty()) return term_error(text, "no operator (one of = != < <= > >=)");
  t.value = std::string(rest.substr(t.op.size()));
  if (t.value.empty()) return term_error(text, "empty value");
  if (t.key == "brand") {
    if (t.op != "=" && t.op != "!=") return term_error(text, "brand takes only = and !=");
  } else if (!is_version(t.value)) {
    return term_error(text, "'" + t.value + "' is not a version");
  }
  return t;
}

// One dotted component without leading zeros ("" stands for 0).
std::string_view strip_zeros(std::string_view c) {
  while (!c.empty() && c.front() == '0') c.remove_prefix(1);
  return c;
}

// Numeric comparison of digit strings of any length: the longer is bigger, else text order.
int compare_component(std::string_view a, std::string_view b) {
  a = strip_zeros(a);
  b = strip_zeros(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

// Whether the fact satisfies term. An empty fact (not known on this host) passes: the
// check is there to explain a certain failure, not to refuse what it cannot tell.
bool holds(const RequireTerm& t, std::string_view fact) {
  if (fact.empty()) return true;
  if (t.key == "brand") return (lower(fact) == lower(t.value)) == (t.op == "=");
  int c = compare_versions(fact, t.value);
  if (t.op == "=") return c == 0;
  if (t.op == "!=") return c != 0;
  if (t.op == "<") return c < 0;
  if (t.op == "<=") return c <= 0;
  if (t.op == ">") return c > 0;
  return c >= 0;
}

std::string_view fact_for(const RequireTerm& t, const RequireFacts& facts,
                          const RequireFacts::Gpu* gpu) {
  if (t.key == "cuda") return facts.cuda;
  if (t.key == "driver") return facts.driver;
  if (!gpu) return {};  // no GPU visible: arch and brand pass
  return t.key == "arch" ? gpu->arch : gpu->brand;
}

// The first failing term when no clause holds for this GPU, else nullptr.
const RequireTerm* first_failure(const Requirement& req, const RequireFacts& facts,
                                 const RequireFacts::Gpu* gpu) {
  const RequireTerm* failed = nullptr;
  for (const auto& clause : req) {
    const RequireTerm* bad = nullptr;
    for (const auto& t : clause) {
      if (!holds(t, fact_for(t, facts, gpu))) {
        bad = &t;
        break;
      }
    }
    if (!bad) return nullptr;
    if (!failed) failed = bad;
  }
  return failed;
}

std::string or_unknown(const std::string& s) {
  return s.empty() ? "unknown" : s;
}

Error unsatisfied(const RequireTerm& t, const RequireFacts& facts, const RequireFacts::Gpu* gpu) {
  std::string m = "unsatisfied condition: " + term_string(t);
  if (t.key == "cuda" || t.key == "driver")
    m += ", please update your driver to a newer version, or use an earlier cuda container";
  m += " (host CUDA " + or_unknown(facts.cuda) + ", driver " + or_unknown(facts.driver);
  if (gpu) m += ", GPU arch " + or_unknown(gpu->arch) + ", brand " + or_unknown(gpu->brand);
  m += ")";
  return Error::invalid(std::move(m));
}

Status check_one(const Requirement& req, const RequireFacts& facts) {
  if (facts.gpus.empty()) {
    if (const auto* t = first_failure(req, facts, nullptr)) return unsatisfied(*t, facts, nullptr);
    return ok();
  }
  // Each selected GPU must satisfy the requirement on its own.
  for (const auto& gpu : facts.gpus)
    if (const auto* t = first_failure(req, facts, &gpu)) return unsatisfied(*t, facts, &gpu);
  return ok();
}

bool is_true(std::string_view v) {
  std::string l = lower(trim(v));
  return l == "true" || l == "1" || l == "yes";
}

// "12.4.1" -> "12.4"; "12" -> "12".
std::string major_minor(std::string_view version) {
  auto first = version.find('.');
  if (first == std::string_view::npos) return std::string(version);
  auto second = version.find('.', first + 1);
  return std::string(version.substr(0, second));
}

}  // namespace

Result<Requirement> parse_requirement(std::string_view value) {
  Requirement req;
  for (auto clause_text : fields(value)) {
    RequireClause clause;
    for (const auto& term : split(clause_text, ',')) clause.push_back(TRY(parse_term(term)));
    req.push_back(std::move(clause));
  }
  return req;
}

int compare_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    size_t ea = std::min(a.find('.'), a.size());
    size_t eb = std::min(b.find('.'), b.size());
    // A missing component reads as "" which compares as 0: trailing ".0" is ignored.
    if (int c = compare_component(a.substr(0, ea), b.substr(0, eb)); c != 0) return c;
    a.remove_prefix(std::min(ea + 1, a.size()));
    b.remove_prefix(std::min(eb + 1, b.size()));
  }
  return 0;
}

std::string term_string(const RequireTerm& t) {
  return t.key + t.op + t.value;
}

std::string requirement_string(const Requirement& req) {
  std::vector<std::string> clauses;
  clauses.reserve(req.size());
  for (const auto& clause : req) {
    std::vector<std::string> terms;
    terms.reserve(clause.size());
    for (const auto& t : clause) terms.push_back(term_string(t));
    clauses.push_back(join(terms, ","));
  }
  return join(clauses, " ");
}

std::vector<std::pair<std::string, std::string>> requirements_of(
    const std::vector<std::string>& env) {
  std::map<std::string, std::string> vars;
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  std::vector<std::pair<std::string, std::string>> out;
  if (auto d = vars.find("NVIDIA_DISABLE_REQUIRE"); d != vars.end() && is_true(d->second))
    return out;
  for (const auto& [name, value] : vars)
    if (starts_with(name, "NVIDIA_REQUIRE_") && name != "NVIDIA_REQUIRE_JETPACK")
      out.emplace_back(name, value);
  // A legacy image (toolkit: CUDA_VERSION non-empty, NVIDIA_REQUIRE_CUDA empty or unset)
  // states its CUDA version only through CUDA_VERSION.
  auto cuda = vars.find("CUDA_VERSION");
  auto require_cuda = vars.find("NVIDIA_REQUIRE_CUDA");
  if (cuda != vars.end() && !cuda->second.empty() &&
      (require_cuda == vars.end() || require_cuda->second.empty()))
    out.emplace_back("CUDA_VERSION", "cuda>=" + major_minor(cuda->second));
  return out;
}

Status check_requirements(const std::vector<std::string>& env, const RequireFacts& facts) {
  for (const auto& [name, value] : requirements_of(env)) {
    auto req = parse_requirement(value);
    if (!req) return Error::invalid(name + ": " + req.error().message());
    TRY(check_one(*req, facts));
  }
  return ok();
}

}  // namespace berth::gpu
