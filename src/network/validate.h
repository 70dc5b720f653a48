// validate.h - checks on values before they go into netlink messages or nft command text.
// Anything that reaches an nft command passes one of these first, so no input can add
// syntax (quotes, semicolons, newlines) to a command.
#pragma once

#include <string>

#include "base/error.h"

namespace berth::network {

// The value as it may appear in a one-line error: quoted, control bytes as '?', at most 80
// characters.
std::string shown_value(const std::string& s);

// A Linux interface name: [a-zA-Z0-9_.-]{1,15}, not "." or "..".
Status check_ifname(const std::string& name);
// A key naming a container's rules: [a-zA-Z0-9_.-]{1,64}.
Status check_key(const std::string& key);
// "tcp" or "udp".
Status check_proto(const std::string& proto);

}  // namespace berth::network
