// berth: the container engine's command line. For now it carries the OCI runtime
// in process (`berth runtime ...` is berth-runtime); images and containers come next.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (argc > 1 &&
      (std::strcmp(argv[1], "version") == 0 || std::strcmp(argv[1], "--version") == 0)) {
    std::printf("berth version 0.1.0\n");
    return 0;
  }
  std::fprintf(
      stderr,
      "berth: images and containers are not implemented yet; use berth-runtime for OCI bundles\n");
  return 125;
}
