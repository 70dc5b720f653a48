// progress.h - docker's per-layer progress display. On a terminal, one line per layer
// redrawn in place ("a1b2c3d4e5f6: Downloading [====>      ]  12.3MB/45.6MB"); elsewhere,
// one plain line per state change without the bars, as docker prints into a pipe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace berth::cli {

class LayerDisplay {
 public:
  // tty: redraw in place; else print state changes as lines.
  LayerDisplay(std::FILE* out, bool tty) : out_(out), tty_(tty) {}
  ~LayerDisplay() { finish(); }

  // Lines for these ids, in this order (docker shows the short id: 12 hex digits).
  void set_layers(const std::vector<std::string>& ids);
  // status: "Downloading"; current/total > 0 draw a bar (tty only).
  void update(const std::string& id, const std::string& status, uint64_t current = 0,
              uint64_t total = 0);
  // Final redraw (tty).
  void finish();

  // "a1b2c3d4e5f6" from "sha256:a1b2c3d4e5f6...".
  static std::string short_id(const std::string& digest);
  // docker's bar: "[=====>     ]  12.3MB/45.6MB".
  static std::string bar(uint64_t current, uint64_t total, int width = 50);

 private:
  struct Line {
    std::string id, status, detail;
  };
  void redraw(bool force);

  std::FILE* out_;
  bool tty_;
  std::vector<Line> lines_;
  size_t drawn_ = 0;
  long long last_draw_ms_ = 0;
};

}  // namespace berth::cli
