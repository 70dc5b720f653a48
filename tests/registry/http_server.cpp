#include "http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>

namespace berth::regtest {
namespace {

constexpr size_t kMaxHead = 64 << 10;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string url_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// Reads until the end of the headers (or the peer gives up); 5 s without data: give up.
bool read_head(int fd, std::string* buf) {
  while (buf->find("\r\n\r\n") == std::string::npos) {
    if (buf->size() > kMaxHead) return false;
    if (!buf->empty() && (*buf)[0] == 0x16) return false;  // a TLS ClientHello
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) return false;
    char tmp[4096];
    ssize_t n = recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf->append(tmp, static_cast<size_t>(n));
  }
  return true;
}

bool parse_head(const std::string& head, HttpRequest* r) {
  size_t eol = head.find("\r\n");
  std::string line = head.substr(0, eol);
  size_t a = line.find(' '), b = line.rfind(' ');
  if (a == std::string::npos || a == b) return false;
  r->method = line.substr(0, a);
  r->target = line.substr(a + 1, b - a - 1);
  size_t q = r->target.find('?');
  r->path = r->target.substr(0, q);
  r->query = q == std::string::npos ? "" : r->target.substr(q + 1);
  for (size_t pos = eol + 2; pos < head.size();) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    std::string h = head.substr(pos, end - pos);
    size_t colon = h.find(':');
    if (colon != std::string::npos) {
      size_t v = h.find_first_not_of(' ', colon + 1);
      r->headers[lower(h.substr(0, colon))] = v == std::string::npos ? "" : h.substr(v);
    }
    pos = end + 2;
  }
  return true;
}

bool read_body(int fd, std::string rest, size_t want, std::string* body) {
  *body = std::move(rest);
  while (body->size() < want) {
    char tmp[65536];
    ssize_t n = recv(fd, tmp, std::min(sizeof tmp, want - body->size()), 0);
    if (n <= 0) return false;
    body->append(tmp, static_cast<size_t>(n));
  }
  body->resize(want);
  return true;
}

}  // namespace

std::string HttpRequest::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::vector<std::string> HttpRequest::params(const std::string& name) const {
  std::vector<std::string> out;
  for (const std::string* src : {&query, &body}) {
    if (src == &body && header("content-type") != "application/x-www-form-urlencoded") continue;
    size_t pos = 0;
    while (pos <= src->size()) {
      size_t amp = src->find('&', pos);
      if (amp == std::string::npos) amp = src->size();
      std::string kv = src->substr(pos, amp - pos);
      size_t eq = kv.find('=');
      if (eq != std::string::npos && url_decode(kv.substr(0, eq)) == name) {
        out.push_back(url_decode(kv.substr(eq + 1)));
      }
      pos = amp + 1;
    }
  }
  return out;
}

std::string status_text(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 206:
      return "Partial Content";
    case 307:
      return "Temporary Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 416:
      return "Range Not Satisfiable";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

void Conn::head(int status, const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string h = "HTTP/1.1 " + std::to_string(status) + " " + status_text(status) + "\r\n";
  for (const auto& [k, v] : headers) h += k + ": " + v + "\r\n";
  h += "Connection: close\r\n\r\n";
  send(h);
}

void Conn::respond(int status, const std::vector<std::pair<std::string, std::string>>& headers,
                   std::string_view body) {
  auto all = headers;
  all.emplace_back("Content-Length", std::to_string(body.size()));
  head(status, all);
  send(body);
}

bool Conn::send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void Conn::stall(std::chrono::milliseconds ms) {
  server_->wait_stop(ms);
}

HttpServer::HttpServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(listen_fd_, 128);
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpServer::~HttpServer() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  acceptor_.join();
  for (auto& t : workers_) t.join();
  close(listen_fd_);
}

bool HttpServer::wait_stop(std::chrono::milliseconds ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, ms, [this] { return stop_.load(); });
}

void HttpServer::accept_loop() {
  while (!stop_) {
    struct pollfd p = {listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> l(mu_);
    workers_.emplace_back([this, fd] {
      serve(fd);
      close(fd);
    });
  }
}

void HttpServer::serve(int fd) {
  std::string buf;
  if (!read_head(fd, &buf)) return;
  size_t end = buf.find("\r\n\r\n");
  HttpRequest r;
  if (!parse_head(buf.substr(0, end + 2), &r)) return;
  size_t want = static_cast<size_t>(std::stoull("0" + r.header("content-length")));
  if (!read_body(fd, buf.substr(end + 4), want, &r.body)) return;
  Conn c(fd, this);
  handler_(r, c);
  shutdown(fd, SHUT_WR);
}

}  // namespace berth::regtest
