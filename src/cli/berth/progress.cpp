#include "cli/berth/progress.h"

#include <chrono>

#include "images/store.h"

namespace berth::cli {

namespace {
long long now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string LayerDisplay::short_id(const std::string& digest) {
  auto colon = digest.find(':');
  std::string hex = colon == std::string::npos ? digest : digest.substr(colon + 1);
  return hex.substr(0, 12);
}

std::string LayerDisplay::bar(uint64_t current, uint64_t total, int width) {
  std::string b = "[";
  int filled = total > 0 ? static_cast<int>(static_cast<double>(current) * width / total) : 0;
  filled = std::min(filled, width);
  for (int i = 0; i < width; ++i) b += i < filled ? '=' : (i == filled ? '>' : ' ');
  b += "] ";
  std::string sizes = images::human_size(static_cast<int64_t>(current)) + "/" +
                      images::human_size(static_cast<int64_t>(total));
  // docker pads the numbers to a fixed width so the bars do not jump.
  if (sizes.size() < 18) sizes.insert(0, 18 - sizes.size(), ' ');
  return b + sizes;
}

void LayerDisplay::set_layers(const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    std::string s = short_id(id);
    bool seen = false;
    for (const auto& l : lines_) seen = seen || l.id == s;
    if (!seen) lines_.push_back({s, "", ""});
  }
}

void LayerDisplay::update(const std::string& id, const std::string& status, uint64_t current,
                          uint64_t total) {
  std::string s = short_id(id);
  Line* line = nullptr;
  for (auto& l : lines_)
    if (l.id == s) line = &l;
  if (line == nullptr) {
    lines_.push_back({s, "", ""});
    line = &lines_.back();
  }
  bool changed = line->status != status;
  line->status = status;
  line->detail = tty_ && total > 0 && status == "Downloading" ? bar(current, total) : "";
  if (!tty_) {
    // A pipe gets each state once, no progress bars (docker's non-terminal output).
    if (changed && status != "Downloading" && status != "Extracting") {
      std::fprintf(out_, "%s: %s\n", s.c_str(), status.c_str());
      std::fflush(out_);
    }
    return;
  }
  redraw(changed);
}

void LayerDisplay::redraw(bool force) {
  long long now = now_ms();
  if (!force && now - last_draw_ms_ < 100) return;
  last_draw_ms_ = now;
  if (drawn_ > 0) std::fprintf(out_, "\033[%zuA", drawn_);
  for (const auto& l : lines_) {
    std::fprintf(out_, "\033[2K\r%s: %s%s%s\n", l.id.c_str(), l.status.c_str(),
                 l.detail.empty() ? "" : " ", l.detail.c_str());
  }
  drawn_ = lines_.size();
  std::fflush(out_);
}

void LayerDisplay::finish() {
  if (tty_ && !lines_.empty()) redraw(true);
}

}  // namespace berth::cli
