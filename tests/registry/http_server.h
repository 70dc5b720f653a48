// http_server.h - a tiny threaded HTTP/1.1 server on 127.0.0.1 for the registry tests: the
// token server and the fault-injecting registry are handlers on it. One request per
// connection (it always answers "Connection: close"); a TLS ClientHello is dropped at once.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace berth::regtest {

struct HttpRequest {
  std::string method, target, path, query;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const;
  // Values of a query parameter, URL-decoded.
  std::vector<std::string> params(const std::string& name) const;
};

class HttpServer;

class Conn {
 public:
  Conn(int fd, HttpServer* server) : fd_(fd), server_(server) {}
  // Whole response with Content-Length.
  void respond(int status, const std::vector<std::pair<std::string, std::string>>& headers,
               std::string_view body = {});
  // Status line and headers only (the caller then streams with send()).
  void head(int status, const std::vector<std::pair<std::string, std::string>>& headers);
  bool send(std::string_view data);
  // Holds the connection open without sending, until the server stops or ms pass.
  void stall(std::chrono::milliseconds ms);

 private:
  int fd_;
  HttpServer* server_;
};

class HttpServer {
 public:
  using Handler = std::function<void(const HttpRequest&, Conn&)>;
  explicit HttpServer(Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string url() const { return "http://" + address(); }
  // Waits at most ms; returns early (true) when the server is stopping.
  bool wait_stop(std::chrono::milliseconds ms);

 private:
  void accept_loop();
  void serve(int fd);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread acceptor_;
  std::vector<std::thread> workers_;
};

std::string status_text(int status);

}  // namespace berth::regtest
