// copy.cpp - COPY, ADD and WORKDIR: files written into a step container's mounted rootfs,
// every path resolved inside it, then its upper dir committed (see builder.h).
//
// docker's rules (https://docs.docker.com/reference/dockerfile/#copy):
//   - sources are relative to the context (or the --from stage/image's root); globs match
//     with Go's filepath.Match; .dockerignore'd files do not exist for COPY;
//   - a directory source copies its contents, not itself; a file goes to DEST/basename when
//     DEST ends with '/', or names an existing directory, or there are several sources
//     (then DEST must end with '/'); otherwise the file becomes DEST;
//   - a relative DEST is under WORKDIR; missing directories are created;
//   - everything copied belongs to 0:0 unless --chown (a name resolved in the image's
//     /etc/passwd and /etc/group; without a group the gid is the uid); --chmod sets the
//     permission bits of everything copied; modes and mtimes are kept otherwise;
//   - ADD also extracts a local tar archive (plain, gzip, bzip2, xz, zstd) into DEST.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <cstring>
#include <algorithm>
#include <memory>

#include "base/file.h"
#include "base/strings.h"
#include "build/builder_internal.h"
#include "containers/spec_parts.h"
#include "images/tree_tar.h"
#include "storage/blob_store.h"
#include "storage/sha256.h"
#include "registry/http.h"
#include "sys/path_resolve.h"

namespace berth::build {

namespace {

namespace tree = images::tree;

// Passes entries on, leaving out what .dockerignore excludes (paths relative to the context
// are `base` + the entry's path) and setting --chmod's bits.
class FilterSink : public tree::EntrySink {
 public:
  FilterSink(tree::EntrySink& next, const BuildContext* ctx, std::string base,
             std::optional<mode_t> chmod)
      : next_(next), ctx_(ctx), base_(std::move(base)), chmod_(chmod) {}
  Status add(const storage::TarEntry& e, storage::EntryData& data) override {
    if (ctx_ && !e.path.empty()) {
      std::string rel = base_ == "." || base_.empty() ? e.path : base_ + "/" + e.path;
      if (ctx_->excluded(rel)) {
        // A directory left out may still hold an exception (`!dir/keep`): its entries come
        // through one by one and are checked themselves.
        return ok();
      }
    }
    if (!chmod_) return next_.add(e, data);
    storage::TarEntry c = e;
    if (c.type != S_IFLNK) c.perm = *chmod_;
    return next_.add(c, data);
  }
  Status finish() override { return ok(); }

 private:
  tree::EntrySink& next_;
  const BuildContext* ctx_;
  std::string base_;
  std::optional<mode_t> chmod_;
};



// ADD URL: the file name it is saved as. docker: DEST itself unless DEST is a directory
// (ends with '/'), then the last element of the URL's path.
Result<std::string> url_file_name(const std::string& url, bool dest_dir, const std::string& dest) {
  std::string path = url.substr(url.find("://") + 3);
  path = path.substr(0, path.find_first_of("?#"));
  auto slash = path.find('/');
  std::string name = slash == std::string::npos ? "" : path.substr(path.rfind('/') + 1);
  if (!dest_dir) name = dest.substr(dest.rfind('/') + 1);
  if (name.empty() || name == "." || name == "..")
    return Error::invalid("cannot determine filename from url: " + url);
  return name;
}

// An HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") as unix seconds; 0 when it does not parse.
time_t http_time(const std::string& s) {
  struct tm tm = {};
  if (!::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm)) return 0;
  return ::timegm(&tm);
}

// Writes what it gets to an fd, hashing it.
class HashFileSink : public ByteSink {
 public:
  explicit HashFileSink(int fd) : fd_(fd) {}
  Status write(std::string_view d) override {
    sha_.update(d);
    while (!d.empty()) {
      ssize_t n = ::write(fd_, d.data(), d.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return sys_error("write the download");
      }
      d.remove_prefix(static_cast<size_t>(n));
    }
    return ok();
  }
  std::string digest() { return sha_.digest(); }

 private:
  int fd_;
  storage::Sha256 sha_;
};

// ADD URL: the file downloaded (redirects followed, TLS verified) to `to`, mode 0600 and the
// server's Last-Modified as its mtime, as docker does; its sha256 checked against
// --checksum when given. Returns its digest.
Result<std::string> download(const std::string& url, const std::string& to, const std::string& checksum) {
  UniqueFd fd = TRY(open_fd(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  HashFileSink sink(fd.get());
  registry::http::Transport t;
  registry::http::Request req;
  req.url = url;
  req.sink = &sink;
  req.stall_timeout = std::chrono::seconds(60);
  registry::http::Response r = t.perform(req);
  if (r.local_error) return *r.local_error;
  if (r.transport_failed()) return Error::invalid("failed to GET " + url + ": " + r.curl_error);
  if (r.status < 200 || r.status >= 300)
    return Error::invalid("failed to GET " + url + " with status " + std::to_string(r.status) +
                          (r.reason.empty() ? "" : " " + r.reason));
  std::string digest = sink.digest();
  if (!checksum.empty() && checksum != digest)
    return Error::invalid("digest mismatch for " + url + ": expected " + checksum + ", got " + digest);
  if (::fchmod(fd.get(), 0600) != 0) return sys_error("chmod", to);
  if (time_t m = http_time(r.header("last-modified")); m > 0) {
    struct timespec ts[2] = {{m, 0}, {m, 0}};
    ::futimens(fd.get(), ts);
  }
  return digest;
}

// A pattern matched inside a root element by element (only the folders the pattern walks
// through are listed, so `COPY --from=build /usr/lib/*.so /x/` does not walk a whole image).
Result<std::vector<std::string>> glob_in_root(int root_fd, const std::string& pattern) {
  std::vector<std::string> current = {"."};
  for (const auto& part : split(pattern, '/')) {
    if (part.empty() || part == ".") continue;
    std::vector<std::string> next;
    for (const auto& dir : current) {
      std::string base = dir == "." ? "" : dir + "/";
      if (!has_glob(part)) {
        if (sys::open_in_root(root_fd, base + part, O_PATH | O_CLOEXEC)) next.push_back(base + part);
        continue;
      }
      auto dfd = sys::open_in_root(root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (!dfd) continue;
      DIR* d = ::fdopendir(::dup(dfd->get()));
      if (!d) continue;
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n == "." || n == "..") continue;
        auto m = path_match(part, n);
        if (!m) {
          ::closedir(d);
          return Error::invalid("invalid source pattern '" + pattern + "': " + m.error().message());
        }
        if (*m) names.push_back(n);
      }
      ::closedir(d);
      std::sort(names.begin(), names.end());
      for (const auto& n : names) next.push_back(base + n);
    }
    current = std::move(next);
  }
  if (current.size() == 1 && current[0] == ".") return std::vector<std::string>{};
  return current;
}

// An unquoted heredoc's body with its variables expanded, as a shell expands a heredoc:
// quotes are plain text, the escape character escapes only '$' and itself. Done by
// expand_word on the body made into one double-quoted word.
Result<std::string> expand_heredoc(const std::string& body, const Vars& vars, char esc) {
  std::string word = "\"";
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c == esc && i + 1 < body.size() && body[i + 1] == '$') {
      word += esc;
      word += '$';
      ++i;
    } else if (c == esc || c == '"') {
      word += esc;
      word += c;
    } else {
      word += c;
    }
  }
  word += '"';
  return expand_word(word, vars, esc);
}

struct Owner {
  int64_t uid = 0, gid = 0;
};

Result<Owner> chown_ids(const std::string& rootfs, const std::string& spec) {
  std::string user = spec, group;
  if (auto c = spec.find(':'); c != std::string::npos) {
    user = spec.substr(0, c);
    group = spec.substr(c + 1);
  }
  if (user.empty()) return Error::invalid("--chown: no user in '" + spec + "'");
  containers::ResolvedUser u = TRY(containers::resolve_user(rootfs, user + (group.empty() ? "" : ":" + group), {}));
  Owner o{u.user.uid, u.user.gid};
  if (group.empty()) o.gid = o.uid;  // docker: a user without a group gets gid = uid
  return o;
}

}  // namespace

Status Builder::copy_step(Stage& st, const Instruction& ins) {
  const bool add = ins.keyword == "ADD";
  std::string from, chown_spec, checksum;
  std::optional<mode_t> chmod;
  for (const auto& f : ins.flags) {
    auto eq = f.find('=');
    std::string name = f.substr(0, eq), val = eq == std::string::npos ? "" : f.substr(eq + 1);
    if (name == "from" && !add) from = TRY(expand(st, val));
    else if (name == "chown") chown_spec = TRY(expand(st, val));
    else if (name == "chmod") {
      std::string v = TRY(expand(st, val));
      char* endp = nullptr;
      unsigned long m = std::strtoul(v.c_str(), &endp, 8);
      if (v.empty() || *endp || m > 07777) return Error::invalid("invalid chmod parameter: " + v);
      chmod = static_cast<mode_t>(m);
    } else if (name == "checksum" && add) {
      checksum = TRY(expand(st, val));
    } else if (name == "link") {
      // --link changes how BuildKit stacks the layer, not what it holds.
    } else {
      return Error::invalid(ins.keyword + " --" + name + " is not supported by berth's builder yet");
    }
  }
  // The words: sources..., dest (heredocs are inline files).
  std::vector<std::string> words;
  for (const auto& a : ins.args) words.push_back(TRY(expand(st, a)));
  if (words.size() < 2) return Error::invalid(ins.keyword + " requires at least two arguments");
  std::string dest = words.back();
  words.pop_back();
  bool dest_dir = !dest.empty() && (dest.back() == '/' || (dest.size() >= 2 && dest.substr(dest.size() - 2) == "/."));
  std::string workdir = st.config.config.working_dir.empty() ? "/" : st.config.config.working_dir;
  if (dest.empty() || dest[0] != '/') dest = workdir + "/" + dest;
  dest = clean_path(dest);

  // Heredoc sources become files in a scratch folder, copied like context files.
  std::unique_ptr<TempDir> inline_dir;
  std::vector<std::string> inline_names;
  for (auto& w : words) {
    if (w.rfind("<<", 0) != 0) continue;
    std::string name = w.substr(2);
    if (!name.empty() && name[0] == '-') name = name.substr(1);
    if (name.size() >= 2 && (name[0] == '"' || name[0] == '\'')) name = name.substr(1, name.size() - 2);
    for (const auto& h : ins.heredocs) {
      if (h.name != name) continue;
      if (!inline_dir) inline_dir = std::make_unique<TempDir>(TRY(TempDir::create("/tmp/berth-heredoc-")));
      std::string body = h.content;
      if (h.expand) body = TRY(expand_heredoc(h.content, scope(st), df_.escape));
      TRY(write_file_atomic(path_join(inline_dir->path(), name), body, 0644, Durability::volatile_ok));
      inline_names.push_back(name);
    }
  }

  // The sources, in the context or in another stage's / image's root.
  struct Source {
    std::string rel;           // relative to its root
    int root_fd = -1;          // the context, the inline folder or the --from rootfs
    const BuildContext* ctx;   // for .dockerignore (context sources only)
  };
  std::vector<Source> sources;
  std::optional<containers::Container> from_container;
  UniqueFd from_root, inline_root;
  auto cleanup_from = [&] {
    if (from_container) {
      (void)engine_.release_rootfs(*from_container);
      remove_step_container(*from_container);
      from_container.reset();
    }
  };
  struct Guard {
    std::function<void()> f;
    ~Guard() { f(); }
  } guard{cleanup_from};
  std::string from_image;
  if (!from.empty()) {
    std::string want = from;
    for (auto& ch : want) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    int index = 0;
    for (auto& s : stages_) {
      if (&s == &st) break;
      if (s.name == want || std::to_string(index) == from) from_image = s.image_id;
      ++index;
    }
    if (from_image.empty()) {
      auto rec = TRY(store_.lookup(from));
      if (!rec && opts_.pull_image) {
        TRY(opts_.pull_image(from, opts_.platform));
        rec = TRY(store_.lookup(from));
      }
      if (!rec) return Error(ENOENT, "invalid from flag value " + from + ": no stage or image of that name");
      from_image = rec->id;
    }
    containers::CreateRequest req;
    req.spec.image = from_image;
    req.entrypoint_set = true;
    req.spec.cmd = {"true"};
    req.spec.network = "none";
    req.spec.labels["berth.build"] = "source";
    from_container = TRY(engine_.create(std::move(req)));
    TRY(engine_.prepare_rootfs(*from_container));
    from_root = TRY(open_fd(engine_.rootfs_path(from_container->id), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  std::vector<std::string> patterns;
  for (const auto& w : words)
    if (w.rfind("<<", 0) != 0) patterns.push_back(w);
  std::string url_digests;
  if (add) {
    std::vector<std::string> local;
    for (const auto& p : patterns) {
      if (p.rfind("git@", 0) == 0 || (p.size() > 4 && p.substr(p.size() - 4) == ".git"))
        return Error::invalid("ADD of a git repository (" + p + ") is not supported by berth's builder yet");
      if (p.rfind("http://", 0) != 0 && p.rfind("https://", 0) != 0) {
        local.push_back(p);
        continue;
      }
      if (!inline_dir) inline_dir = std::make_unique<TempDir>(TRY(TempDir::create("/tmp/berth-heredoc-")));
      std::string name = TRY(url_file_name(p, dest_dir, dest));
      std::string digest = TRY(download(p, path_join(inline_dir->path(), name), checksum));
      url_digests += p + " " + digest + "\n";
      inline_names.push_back(name);
    }
    patterns = local;
  } else if (!checksum.empty()) {
    return Error::invalid("COPY has no --checksum flag");
  }
  if (inline_dir) inline_root = TRY(open_fd(inline_dir->path(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (from_root) {
    for (const auto& p : patterns) {
      std::string c = clean_path(p);
      if (c.rfind("/", 0) == 0) c = c.size() == 1 ? "." : c.substr(1);
      if (has_glob(c)) {
        std::vector<std::string> found = TRY(glob_in_root(from_root.get(), c));
        if (found.empty())
          return Error(ENOENT, "failed to compute cache key: \"/" + c + "\" matches nothing in " + from);
        for (auto& f : found) sources.push_back({f, from_root.get(), nullptr});
        continue;
      }
      if (!sys::open_in_root(from_root.get(), c, O_PATH | O_CLOEXEC))
        return Error(ENOENT, "failed to compute cache key: \"/" + c + "\" not found in " + from);
      sources.push_back({c, from_root.get(), nullptr});
    }
  } else if (!patterns.empty()) {
    for (const auto& rel : TRY(ctx_.expand(patterns))) sources.push_back({rel, ctx_.fd(), &ctx_});
  }
  for (const auto& n : inline_names) sources.push_back({n, inline_root.get(), nullptr});
  if (sources.size() > 1 && !dest_dir)
    return Error::invalid("When using " + ins.keyword + " with more than one source file, the "
                          "destination must be a directory and end with a /");

  // The key: the instruction, and what the sources hold.
  std::string what = ins.keyword + " " + nlohmann::json(words).dump() + " " + dest +
                     (dest_dir ? "/" : "") + " chown=" + chown_spec + " chmod=" +
                     (chmod ? std::to_string(*chmod) : "") + " from=" + from_image + "\n";
  std::vector<std::string> ctx_paths;
  for (const auto& s : sources)
    if (s.ctx) ctx_paths.push_back(s.rel);
  if (!ctx_paths.empty()) what += TRY(ctx_.content_digest(ctx_paths, store_.db()));
  for (const auto& h : ins.heredocs) what += "\nheredoc " + h.name + " " + storage::sha256_digest(h.content);
  what += url_digests;
  if (from_container) {
    // Another stage's files are as its image is: the image id is the key.
    what += "\nfrom " + from_image;
  }
  std::string key = cache_key(st, what);
  if (TRY(reuse(st, key))) return ok();

  containers::Container c = TRY(step_container(st, {"true"}, {}));
  auto id = [&]() -> Result<std::string> {
    TRY(engine_.prepare_rootfs(c));
    std::string rootfs = engine_.rootfs_path(c.id);
    UniqueFd root = TRY(open_fd(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC));
    Owner owner;
    if (!chown_spec.empty()) owner = TRY(chown_ids(rootfs, chown_spec));
    // Is DEST an existing directory in the image?
    bool exists_dir = false;
    if (auto d = sys::open_in_root(root.get(), dest, O_PATH | O_CLOEXEC)) {
      struct stat sb;
      exists_dir = ::fstat(d->get(), &sb) == 0 && S_ISDIR(sb.st_mode);
    }
    auto make_dir = [&](const std::string& dir) -> Status {
      bool existed = static_cast<bool>(sys::open_in_root(root.get(), dir, O_PATH | O_DIRECTORY | O_CLOEXEC));
      UniqueFd d = TRY(sys::mkdir_in_root(root.get(), dir, 0755));
      if (!existed && !chown_spec.empty()) {
        UniqueFd rd = TRY(sys::open_in_root(root.get(), dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (::fchown(rd.get(), static_cast<uid_t>(owner.uid), static_cast<gid_t>(owner.gid)) != 0)
          return sys_error("chown", dir);
      }
      return ok();
    };
    for (const auto& s : sources) {
      UniqueFd node = TRY(sys::open_in_root(s.root_fd, s.rel, O_PATH | O_CLOEXEC));
      struct stat sb;
      if (::fstat(node.get(), &sb) != 0) return sys_error("stat", s.rel);
      tree::ExtractOptions eo;
      eo.owner = std::make_pair(owner.uid, owner.gid);
      eo.label = ins.keyword;
      if (S_ISDIR(sb.st_mode)) {
        TRY(make_dir(dest));
        eo.prefix = dest == "/" ? "" : dest.substr(1);
        tree::ExtractSink out(root.get(), eo);
        FilterSink filter(out, s.ctx, s.rel, chmod);
        TRY(tree::walk(node.get(), "", tree::WalkOptions{}, filter));
        TRY(out.finish());
        continue;
      }
      if (add && s.ctx && S_ISREG(sb.st_mode)) {  // remote files are never extracted
        UniqueFd rd = TRY(sys::open_in_root(s.root_fd, s.rel, O_RDONLY | O_CLOEXEC));
        char head[512];
        ssize_t n = ::pread(rd.get(), head, sizeof head, 0);
        if (n > 0 && looks_like_archive(std::string_view(head, static_cast<size_t>(n)))) {
          TRY(make_dir(dest));
          eo.prefix = dest == "/" ? "" : dest.substr(1);
          eo.owner.reset();  // an archive's owners are kept, as docker does
          if (!chown_spec.empty()) eo.owner = std::make_pair(owner.uid, owner.gid);
          tree::ExtractSink out(root.get(), eo);
          FilterSink filter(out, nullptr, "", chmod);
          storage::FdSource src(std::move(rd));
          TRY(tree::read_tar(src, filter, ins.keyword + " " + s.rel));
          TRY(out.finish());
          continue;
        }
      }
      std::string target = dest_dir || exists_dir ? dest + "/" + basename_of(s.rel) : dest;
      target = clean_path(target);
      TRY(make_dir(dirname_of(target)));
      std::string parent = dirname_of(target);
      eo.prefix = parent == "/" ? "" : parent.substr(1);
      tree::ExtractSink out(root.get(), eo);
      FilterSink filter(out, nullptr, "", chmod);
      TRY(tree::walk(node.get(), basename_of(target), tree::WalkOptions{}, filter));
      TRY(out.finish());
    }
    root = UniqueFd();
    TRY(engine_.release_rootfs(c));
    // docker's form: "COPY file:<hash> in /dest" (dir: for a folder, multi: for several).
    std::string kind = sources.size() > 1 ? "multi" : "file";
    if (sources.size() == 1) {
      UniqueFd n = TRY(sys::open_in_root(sources[0].root_fd, sources[0].rel, O_PATH | O_CLOEXEC));
      struct stat sb;
      if (::fstat(n.get(), &sb) == 0 && S_ISDIR(sb.st_mode)) kind = "dir";
    }
    std::string created_by = "/bin/sh -c #(nop) " + ins.keyword + " " + kind + ":" +
                             storage::sha256_digest(what).substr(7) + " in " + dest + " ";
    return commit_container(st, c, key, created_by);
  }();
  (void)engine_.release_rootfs(c);
  remove_step_container(c);
  if (!id) return std::move(id).error();
  say(" ---> " + id->substr(7, 12));
  return ok();
}

Status Builder::workdir_step(Stage& st, const Instruction& ins) {
  std::string dir = TRY(expand(st, ins.args.empty() ? std::string() : ins.args[0]));
  if (dir.empty()) return Error::invalid("WORKDIR requires exactly one argument");
  if (dir[0] != '/') {
    std::string cur = st.config.config.working_dir.empty() ? "/" : st.config.config.working_dir;
    dir = cur + "/" + dir;
  }
  dir = clean_path(dir);
  std::string key = cache_key(st, "WORKDIR " + dir);
  if (TRY(reuse(st, key))) return ok();
  st.config.config.working_dir = dir;
  // The folder is made now (owned by root, as docker does), so it is in the image even if no
  // later step writes there.
  containers::Container c = TRY(step_container(st, {"true"}, {}));
  auto id = [&]() -> Result<std::string> {
    TRY(engine_.prepare_rootfs(c));
    {
      UniqueFd root = TRY(open_fd(engine_.rootfs_path(c.id), O_PATH | O_DIRECTORY | O_CLOEXEC));
      (void)TRY(sys::mkdir_in_root(root.get(), dir, 0755));
    }
    TRY(engine_.release_rootfs(c));
    return commit_container(st, c, key, "/bin/sh -c #(nop) WORKDIR " + dir);
  }();
  (void)engine_.release_rootfs(c);
  remove_step_container(c);
  if (!id) return std::move(id).error();
  say(" ---> " + id->substr(7, 12));
  return ok();
}

}  // namespace berth::build
