#include "oci/spec.h"

namespace berth::oci {

const char* const kNamespaceTypes[8] = {"user", "mount", "pid",    "network",
                                        "ipc",  "uts",   "cgroup", "time"};

const Namespace* Spec::find_namespace(const std::string& type) const {
  if (!linux) return nullptr;
  for (const auto& ns : linux->namespaces)
    if (ns.type == type) return &ns;
  return nullptr;
}

}  // namespace berth::oci
