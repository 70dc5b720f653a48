// fake_registry.h - an in-process registry that misbehaves on purpose: it serves manifests
// and blobs from memory (with Range), and can answer 500 a number of times, 401 forever,
// stall or cut the connection mid-blob, ignore Range, or serve a garbage or huge manifest.
// It records every request so tests can check what the client sent.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "http_server.h"

namespace berth::regtest {

class FakeRegistry {
 public:
  FakeRegistry();
  std::string host() const { return server_->address(); }

  void add_blob(const std::string& digest, const std::string& data);
  // ref: a tag or a digest.
  void add_manifest(const std::string& repo, const std::string& ref, const std::string& body,
                    const std::string& media_type);

  // Faults (set before the requests they apply to).
  std::atomic<int> fail_500{0};           // the next N requests answer 500
  std::atomic<bool> unauthorized{false};  // every /v2/ request answers 401 (Bearer, own realm)
  std::atomic<int> stall_blob{0};         // the next N blob GETs stall after stall_after bytes
  std::atomic<int> cut_blob{0};           // the next N blob GETs close after cut_after bytes
  std::atomic<size_t> stall_after{0};
  std::atomic<size_t> cut_after{0};
  std::atomic<bool> ignore_range{false};
  std::atomic<bool> no_content_length{false};  // manifests sent close-delimited
  std::atomic<int> token_requests{0};

  // "METHOD target [range]" of every request so far.
  std::vector<std::string> requests();

 private:
  void handle(const HttpRequest& r, Conn& c);
  void serve_blob(const HttpRequest& r, Conn& c, const std::string& data);
  void serve_manifest(const HttpRequest& r, Conn& c, const std::string& key);

  std::mutex mu_;
  std::map<std::string, std::string> blobs_;
  std::map<std::string, std::pair<std::string, std::string>> manifests_;  // repo@ref
  std::vector<std::string> log_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace berth::regtest
