// parallel.h - the small worker pool that pull, push and install_image share: jobs handed
// out in order to a few threads; the first error stops handing out new ones (those already
// running finish or fail on their own) and is the result.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "base/error.h"

namespace berth::images {

inline Status run_parallel(size_t count, size_t max_threads,
                           const std::function<Status(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::optional<Error> failure;
  auto worker = [&] {
    for (;;) {
      {
        std::lock_guard<std::mutex> g(mu);
        if (failure) return;
      }
      size_t k = next++;
      if (k >= count) return;
      Status st = job(k);
      if (!st) {
        std::lock_guard<std::mutex> g(mu);
        if (!failure) failure = std::move(st).error();
        return;
      }
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(std::max<size_t>(max_threads, 1), count); ++t)
    threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (failure) return std::move(*failure);
  return ok();
}

}  // namespace berth::images
