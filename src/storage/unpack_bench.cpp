// unpack_bench.cpp - times unpack_layer on a layer blob, for docs/benchmarks and the
// comparison with `tar -xzf` / `tar -x -I igzip`.
//   storage_unpack_bench BLOB NEW_DIR [--inline]
// --inline: decompress in the same thread as the extraction (no prefetch thread).
#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>

#include "base/file.h"
#include "storage/blob_store.h"
#include "storage/fs_util.h"
#include "storage/unpack.h"

int main(int argc, char** argv) {
  using namespace berth;
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s BLOB NEW_DIR [--inline]\n", argv[0]);
    return 2;
  }
  auto blob = open_fd(argv[1], O_RDONLY);
  if (!blob.ok() || ::mkdir(argv[2], 0755) < 0) {
    std::fprintf(stderr, "cannot open %s or create %s\n", argv[1], argv[2]);
    return 1;
  }
  auto dir = storage::open_dir(argv[2]);
  if (!dir.ok()) return 1;
  storage::UnpackOptions o = storage::UnpackOptions::for_current_user();
  o.decompress_in_thread = !(argc > 3 && std::strcmp(argv[3], "--inline") == 0);
  o.hash_compressed = true;
  storage::FdSource src(std::move(blob).value());
  auto start = std::chrono::steady_clock::now();
  auto r = storage::unpack_layer(src, storage::Compression::detect, dir->get(), o);
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) {
    std::fprintf(stderr, "%s\n", r.error().message().c_str());
    return 1;
  }
  std::printf("%.3f s  %.0f MB/s compressed  %.0f MB/s tar  %llu entries  %s\n", s,
              r->compressed_size / s / 1e6, r->tar_size / s / 1e6,
              static_cast<unsigned long long>(r->entries), r->diff_id.c_str());
  return 0;
}
