// protocol.h - the attach socket's wire format, shared by berth-monitor and berth_attach.
//
// docs/monitor.md describes it. The client sends one flags byte, then frames; the monitor
// sends frames. A frame is an 8-byte header [type u8][0 0 0][length u32 big-endian] and
// length bytes of payload. Header only, no libstdc++: berth-monitor must stay tiny.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace berth::monitor {

// The flags byte a client sends first.
inline constexpr uint8_t kWantStdin = 1;
inline constexpr uint8_t kWantStdout = 2;
inline constexpr uint8_t kWantStderr = 4;
// The client wants a kFrameAttached once it is registered: from then on no output of the
// container can miss it (berth run starts the container only after that frame).
inline constexpr uint8_t kWantAck = 8;
// The client cleans up after the exit itself (`berth run` in the foreground): while it is
// connected when the container exits, the monitor does not run its exit hook.
inline constexpr uint8_t kOwnsExit = 16;

enum FrameType : uint8_t {
  kFrameStdin = 0,       // client -> monitor: bytes for the container's stdin
  kFrameStdout = 1,      // monitor -> client: container stdout (all pty output too)
  kFrameStderr = 2,      // monitor -> client: container stderr
  kFrameExit = 3,        // monitor -> client: u32 BE exit status, then FinishedAt text
  kFrameResize = 4,      // client -> monitor: u16 BE rows, u16 BE cols
  kFrameCloseStdin = 5,  // client -> monitor: this client's stdin ended (empty payload)
  kFrameAttached = 6,    // monitor -> client: registered (empty payload; asked by kWantAck)
};

inline constexpr size_t kFrameHeaderSize = 8;
// Largest payload the monitor accepts in a stdin frame; exit payloads are far smaller.
inline constexpr uint32_t kMaxClientFrame = 1u << 20;
inline constexpr uint32_t kMaxExitPayload = 256;

inline void put_be32(unsigned char* p, uint32_t v) {
  p[0] = static_cast<unsigned char>(v >> 24);
  p[1] = static_cast<unsigned char>(v >> 16);
  p[2] = static_cast<unsigned char>(v >> 8);
  p[3] = static_cast<unsigned char>(v);
}

inline uint32_t get_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

inline void encode_header(unsigned char* h, uint8_t type, uint32_t len) {
  h[0] = type;
  h[1] = h[2] = h[3] = 0;
  put_be32(h + 4, len);
}

}  // namespace berth::monitor
