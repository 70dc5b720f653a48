// logs.cpp - `berth logs [-f] [--tail N] [-t] [--since T] [--until T] CONTAINER`.
#include "cli/berth/logs.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <memory>
#include <thread>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "base/strings.h"
#include "image/config.h"

namespace berth::cli {
namespace {

struct LogFlags {
  bool follow = false, timestamps = false;
  std::string tail = "all", since, until, name;
};

// --since/--until: RFC 3339, unix seconds, or a duration before now ("10m", "1h30m", "5s").
Result<int64_t> parse_time_bound(const std::string& s) {
  if (s.empty()) return int64_t{0};
  if (auto n = parse_int(s)) return *n * 1000000000;
  if (auto t = image::parse_rfc3339(s)) return *t * 1000000000;
  int64_t total = 0, num = 0;
  bool any = false;
  for (char ch : s) {
    if (ch >= '0' && ch <= '9') {
      num = num * 10 + (ch - '0');
      any = true;
      continue;
    }
    int64_t unit = ch == 'h' ? 3600 : ch == 'm' ? 60 : ch == 's' ? 1 : 0;
    if (!unit || !any) return Error::invalid("invalid value for time: " + s);
    total += num * unit;
    num = 0;
    any = false;
  }
  if (any || total == 0) return Error::invalid("invalid value for time: " + s);
  auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                 std::chrono::system_clock::now().time_since_epoch()).count();
  return now - total * 1000000000;
}

int64_t entry_time(const std::string& t) {
  auto secs = image::parse_rfc3339(t);
  if (!secs) return 0;
  int64_t ns = 0;
  auto dot = t.find('.');
  if (dot != std::string::npos) {
    std::string frac;
    for (size_t i = dot + 1; i < t.size() && isdigit(static_cast<unsigned char>(t[i])); ++i) frac += t[i];
    frac.resize(9, '0');
    ns = std::stoll(frac);
  }
  return *secs * 1000000000 + ns;
}

struct Printer {
  const LogFlags& f;
  int64_t since = 0, until = 0;
  // Prints one log line; false when past --until.
  bool line(const std::string& text) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return true;
    std::string t = j.value("time", "");
    int64_t when = (since || until) ? entry_time(t) : 0;
    if (since && when < since) return true;
    if (until && when > until) return false;
    std::string msg = j.value("log", "");
    FILE* out = j.value("stream", "stdout") == "stderr" ? stderr : stdout;
    if (f.timestamps) std::fprintf(out, "%s ", t.c_str());
    std::fwrite(msg.data(), 1, msg.size(), out);
    std::fflush(out);
    return true;
  }
};

std::vector<std::string> log_files(const std::string& path) {
  std::vector<std::string> files;
  for (int i = 20; i >= 1; --i)
    if (path_exists(path + "." + std::to_string(i))) files.push_back(path + "." + std::to_string(i));
  files.push_back(path);
  return files;
}

Status show_logs(Context& ctx, const LogFlags& f) {
  containers::Engine* e = TRY(ctx.engine());
  containers::Container c = TRY(e->get(f.name));
  Printer p{f, TRY(parse_time_bound(f.since)), TRY(parse_time_bound(f.until))};
  size_t tail = SIZE_MAX;
  if (f.tail != "all") {
    auto n = parse_int(f.tail);
    if (!n || *n < 0) return Error::invalid("invalid value for --tail: " + f.tail);
    tail = static_cast<size_t>(*n);
  }
  std::string path = e->log_path(c.id);
  std::deque<std::string> last;
  for (const auto& file : log_files(path)) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      if (tail == SIZE_MAX) {
        if (!p.line(line)) return ok();
        continue;
      }
      last.push_back(std::move(line));
      if (last.size() > tail) last.pop_front();
    }
  }
  for (const auto& l : last)
    if (!p.line(l)) return ok();
  if (!f.follow) return ok();
  std::ifstream in(path);
  in.seekg(0, std::ios::end);
  std::string partial;
  while (true) {
    std::string line;
    bool got = false;
    while (std::getline(in, line)) {
      if (in.eof()) {  // no newline yet: keep for the next round
        partial += line;
        break;
      }
      got = true;
      if (!p.line(partial + line)) return ok();
      partial.clear();
    }
    in.clear();
    if (!got) {
      auto now = e->get(c.id);
      if (!now || (now->state.status != "running" && now->state.status != "paused" &&
                   now->state.status != "restarting"))
        break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  std::string line;
  while (std::getline(in, line)) p.line(line);
  return ok();
}

}  // namespace

void add_logs(CLI::App* parent, Context& ctx) {
  auto f = std::make_shared<LogFlags>();
  auto* c = parent->add_subcommand("logs", "Fetch the logs of a container");
  c->add_flag("-f,--follow", f->follow, "Follow log output");
  c->add_flag("-t,--timestamps", f->timestamps, "Show timestamps");
  c->add_option("-n,--tail", f->tail, "Number of lines to show from the end of the logs");
  c->add_option("--since", f->since, "Show logs since timestamp or relative (e.g. 42m)");
  c->add_option("--until", f->until, "Show logs before a timestamp or relative (e.g. 42m)");
  c->add_option("CONTAINER", f->name, "container")->required();
  c->callback([=, &ctx] { ctx.run([&] { return show_logs(ctx, *f); }); });
}

}  // namespace berth::cli
