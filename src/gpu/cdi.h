// cdi.h - Container Device Interface (github.com/cncf-tags/container-device-interface):
// qualified names, spec files (JSON or YAML, cdiVersion up to 0.7.0 accepted, strict), the
// registry of spec directories, and resolving "vendor/class=name" to container edits.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/error.h"
#include "gpu/edits.h"

namespace berth::gpu::cdi {

// The default spec directories, lowest priority first: /etc/cdi, /var/run/cdi.
std::vector<std::string> default_spec_dirs();

struct QualifiedName {
  std::string vendor, device_class, name;
  std::string kind() const { return vendor + "/" + device_class; }
  std::string str() const { return kind() + "=" + name; }
};
// True when s is a fully qualified CDI name ("nvidia.com/gpu=0"); anything else
// (e.g. "/dev/fuse") is an ordinary device path.
bool is_qualified_name(std::string_view s);
// Parses a qualified name: split at the first '=', the left at the first '/'. Vendor and
// class start with a letter, end with a letter or digit, and hold [A-Za-z0-9_.-]; the name
// may also hold ':' and start with a digit. Errors name the problem.
Result<QualifiedName> parse_qualified_name(std::string_view s);

struct Device {
  std::string name;
  std::map<std::string, std::string> annotations;
  ContainerEdits edits;
  bool operator==(const Device&) const = default;
};

struct Spec {
  std::string cdi_version;  // "0.6.0"
  std::string kind;         // "vendor/class"
  std::map<std::string, std::string> annotations;
  std::vector<Device> devices;  // at least one
  ContainerEdits edits;         // applied once when any device of the spec is used
  std::string path;             // the file it came from (empty when parsed from memory)
  int priority = 0;             // index of its directory in the registry
  bool operator==(const Spec&) const = default;
};

// Parses a spec file's text: YAML (a superset of JSON, so JSON files parse too) when
// is_yaml, else JSON. Strict: unknown fields, duplicate keys, a bad kind, a bad or unknown
// cdiVersion, a version lower than the fields used need (mount type 0.4.0; hostPath and a
// device name starting with a digit 0.5.0; annotations and a '.' in the class 0.6.0;
// additionalGids 0.7.0; netDevices (1.1.0) is refused: berth knows up to 0.7.0; intelRdt is
// refused: berth cannot apply it), no devices, a device without edits, a bad device name,
// duplicate device names, relative container paths or hook paths, env without '=': one-line
// errors naming the field, after "CDI spec: ". YAML: unquoted scalars are typed as YAML 1.1
// does (0666 is octal), aliases are refused, nesting is limited to 32 levels.
Result<Spec> parse_spec(std::string_view text, bool is_yaml);

// Serialises a spec (for `berth gpu cdi generate`), YAML or JSON; parse_spec reads the
// result back to an equal Spec. masked_paths (berth's own, not CDI) is not written.
std::string to_json(const Spec& spec);
std::string to_yaml(const Spec& spec);

// All specs of the given directories (*.json, *.yaml, *.yml, in name order; no recursion;
// a missing directory is fine; a file over 8 MiB or not a regular file is refused). Later
// directories have higher priority: a definition there overrides earlier ones, conflicting
// or not. A device name defined twice at the same priority is a conflict: both are dropped
// and the conflict recorded (an error only when that name is requested). A spec file that
// does not parse is recorded too (an error only when a name of its kind, or of any kind
// when its kind could not be read, is requested and not found elsewhere).
class Registry {
 public:
  static Registry load(const std::vector<std::string>& dirs);
  // The edits for these qualified names: the spec-level edits once per spec, then each
  // device's edits, in order (a name asked for twice counts once). Any name that does not
  // resolve fails the whole request with one error, "unresolvable CDI devices A, B (...)",
  // listing every unresolved name, then any conflict or parse error that may explain it.
  Result<ContainerEdits> resolve(const std::vector<std::string>& names) const;
  // "vendor/class=name" of every device known, sorted.
  std::vector<std::string> device_names() const;
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct Entry {
    size_t spec = 0;    // index in specs_
    size_t device = 0;  // index in specs_[spec].devices
  };
  std::vector<Spec> specs_;
  std::map<std::string, Entry> devices_;          // qualified name -> where
  std::map<std::string, std::string> conflicts_;  // qualified name -> message
  std::vector<std::string> errors_;               // "FILE: message"

  struct Failed {
    std::string kind;     // the file's kind when it could be read, else ""
    std::string message;  // "FILE: message"
  };
  std::vector<Failed> failed_;
  std::map<std::string, int> conflict_priority_;  // qualified name -> priority of the conflict
  void load_file(const std::string& path, bool is_yaml, int priority);
  void add_devices(size_t spec_index);
};

}  // namespace berth::gpu::cdi
