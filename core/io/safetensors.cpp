// safetensors.cpp — the strict safetensors reader and the writer (Note [Safetensors format]).
#include "core/io/safetensors.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/plugin/runtime.hpp"

namespace prism::io {

namespace {

using json = nlohmann::json;

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the reference implementation's limit

struct DtypeName {
  const char* name;
  prism_dtype dtype;
};
constexpr DtypeName kDtypes[] = {
    {"F64", PRISM_DTYPE_F64},   {"F32", PRISM_DTYPE_F32}, {"F16", PRISM_DTYPE_F16},
    {"BF16", PRISM_DTYPE_BF16}, {"I64", PRISM_DTYPE_I64}, {"I32", PRISM_DTYPE_I32},
    {"I16", PRISM_DTYPE_I16},   {"I8", PRISM_DTYPE_I8},   {"U8", PRISM_DTYPE_U8},
    {"BOOL", PRISM_DTYPE_BOOL},
};

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char b = 0;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

uint64_t read_u64_le(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

void write_u64_le(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<unsigned char>(v >> (8 * i));
}

// Short JSON rendering of a value for error messages.
std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

}  // namespace

const char* safetensors_dtype_name(prism_dtype dtype) {
  for (const DtypeName& d : kDtypes)
    if (d.dtype == dtype) return d.name;
  PRISM_FAIL(INVALID_ARGUMENT, "safetensors: dtype ", dtype_name(dtype), " has no safetensors name",
             is_complex(dtype)
                 ? " (the format has no complex dtypes: save the real and imaginary parts as two "
                   "float tensors)"
                 : "");
}

// ---- reading ------------------------------------------------------------------------------------

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->source_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  PRISM_CHECK(fd >= 0, INVALID_ARGUMENT, "safetensors: cannot open '", path, "': ", std::strerror(errno));
  std::unique_ptr<int, void (*)(int*)> closer(new int(fd), [](int* p) {
    ::close(*p);
    delete p;
  });
  struct stat st {};
  PRISM_CHECK(::fstat(fd, &st) == 0, IO, "safetensors: cannot stat '", path, "': ", std::strerror(errno));
  PRISM_CHECK(S_ISREG(st.st_mode), INVALID_ARGUMENT, "safetensors: '", path, "' is not a regular file");
  const auto size = static_cast<uint64_t>(st.st_size);
  // Reads bytes_[from, to) from the file.
  auto read_range = [&](size_t from, size_t to) {
    size_t at = from;
    while (at < to) {
      const ssize_t got = ::pread(fd, f->bytes_.data() + at, to - at, static_cast<off_t>(at));
      if (got < 0 && errno == EINTR) continue;
      PRISM_CHECK(got >= 0, IO, "safetensors: reading '", path, "' failed: ", std::strerror(errno));
      PRISM_CHECK(got > 0, INVALID_ARGUMENT, "safetensors: reading '", path, "' stopped after ", at, " of ",
                  size, " bytes");
      at += static_cast<size_t>(got);
    }
  };
  // Note [Header before data]: the length and the header first.
  f->bytes_.resize(static_cast<size_t>(std::min<uint64_t>(size, 8)));
  read_range(0, f->bytes_.size());
  if (size >= 8) {
    const uint64_t header_len = read_u64_le(f->bytes_.data());
    if (header_len <= kMaxHeaderBytes && header_len <= size - 8) {
      f->bytes_.resize(static_cast<size_t>(8 + header_len));
      read_range(8, f->bytes_.size());
    }
  }
  f->parse(static_cast<size_t>(size));
  f->bytes_.resize(static_cast<size_t>(size));
  read_range(f->data_start_, f->bytes_.size());
  return f;
}

std::shared_ptr<SafetensorsFile> SafetensorsFile::from_memory(const void* bytes, size_t n,
                                                              const std::string& source) {
  PRISM_CHECK(bytes != nullptr || n == 0, INVALID_ARGUMENT, "safetensors: buffer is NULL with ", n, " bytes");
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->source_ = source;
  const auto* p = static_cast<const unsigned char*>(bytes);
  f->bytes_.assign(p, p + n);
  f->parse(n);
  return f;
}

// A failed check on tensor `name` of source `src` (both in scope).
#define ENTRY_CHECK(cond, ...) \
  PRISM_CHECK(cond, INVALID_ARGUMENT, "safetensors: '", src, "': tensor '", name, "': ", __VA_ARGS__)

void SafetensorsFile::parse(size_t total) {
  const std::string& src = source_;
  PRISM_CHECK(host_is_little_endian(), UNIMPLEMENTED, "safetensors: '", src,
              "': reading needs a little-endian host");
  PRISM_CHECK(total >= 8, INVALID_ARGUMENT, "safetensors: '", src, "' is truncated: ", total,
              " bytes, but the header length alone takes 8");
  const uint64_t header_len = read_u64_le(bytes_.data());
  PRISM_CHECK(header_len <= kMaxHeaderBytes, INVALID_ARGUMENT, "safetensors: '", src, "': header length ",
              header_len, " exceeds the limit of ", kMaxHeaderBytes, " bytes");
  PRISM_CHECK(header_len <= total - 8, INVALID_ARGUMENT, "safetensors: '", src, "': header length ",
              header_len, " runs past the end of the ", total, "-byte file (truncated?)");
  PRISM_CHECK(header_len >= 2 && bytes_[8] == '{', INVALID_ARGUMENT, "safetensors: '", src,
              "': the header is not a JSON object (it must start with '{')");
  data_start_ = 8 + static_cast<size_t>(header_len);
  const uint64_t data_len = total - data_start_;

  // Parse, rejecting duplicate top-level names and nesting deeper than the
  // format needs (the callback runs during parsing, before the value is kept).
  std::set<std::string> seen;
  auto cb = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > 3) PRISM_FAIL(INVALID_ARGUMENT, "safetensors: '", src, "': the header nests too deeply");
    if (event == json::parse_event_t::key && depth == 1) {
      std::string key = parsed.get<std::string>();
      PRISM_CHECK(seen.insert(key).second, INVALID_ARGUMENT, "safetensors: '", src, "': tensor '", key,
                  "' appears twice in the header");
    }
    return true;
  };
  json header;
  try {
    const char* first = reinterpret_cast<const char*>(bytes_.data() + 8);
    header = json::parse(first, first + header_len, cb);
  } catch (const json::exception& e) {
    PRISM_FAIL(INVALID_ARGUMENT, "safetensors: '", src, "': the header is not valid JSON: ", e.what());
  }
  PRISM_CHECK(header.is_object(), INVALID_ARGUMENT, "safetensors: '", src,
              "': the header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& v = it.value();
    if (name == "__metadata__") {
      PRISM_CHECK(v.is_object(), INVALID_ARGUMENT, "safetensors: '", src,
                  "': __metadata__ must be an object of strings, got ", show(v));
      for (auto m = v.begin(); m != v.end(); ++m) {
        PRISM_CHECK(m.value().is_string(), INVALID_ARGUMENT, "safetensors: '", src, "': __metadata__ entry '",
                    m.key(), "' must be a string, got ", show(m.value()));
        metadata_.emplace_back(m.key(), m.value().get<std::string>());
      }
      continue;
    }
    ENTRY_CHECK(v.is_object(), "expected an object with dtype, shape and data_offsets, got ", show(v));
    for (auto f = v.begin(); f != v.end(); ++f)
      ENTRY_CHECK(f.key() == "dtype" || f.key() == "shape" || f.key() == "data_offsets", "unknown field '",
                  f.key(), "'");
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    ENTRY_CHECK(dt != v.end() && sh != v.end() && off != v.end(),
                "needs the fields dtype, shape and data_offsets");

    SafetensorsEntry e;
    e.name = name;
    ENTRY_CHECK(dt->is_string(), "dtype must be a string, got ", show(*dt));
    const std::string dts = dt->get<std::string>();
    const DtypeName* found = nullptr;
    for (const DtypeName& d : kDtypes)
      if (dts == d.name) found = &d;
    ENTRY_CHECK(found != nullptr, "unsupported dtype \"", dts,
                "\" (Prism reads F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL)");
    e.dtype = found->dtype;

    ENTRY_CHECK(sh->is_array(), "shape must be an array, got ", show(*sh));
    ENTRY_CHECK(sh->size() <= static_cast<size_t>(PRISM_MAX_DIMS), "shape has ", sh->size(),
                " dims; at most ", PRISM_MAX_DIMS, " are supported");
    // The product of the non-zero dims must stay far from overflow even when
    // a zero dim makes the tensor empty (strides are computed from it).
    constexpr uint64_t kMaxElements = uint64_t{1} << 56;
    uint64_t nonzero = 1;
    bool empty_dim = false;
    for (const json& d : *sh) {
      ENTRY_CHECK(d.is_number_unsigned(), "shape entries must be non-negative integers, got ", show(*sh));
      const uint64_t n = d.get<uint64_t>();
      ENTRY_CHECK(n <= kMaxElements && (n == 0 || nonzero <= kMaxElements / n), "shape ", show(*sh),
                  " has too many elements");
      e.sizes.push_back(static_cast<int64_t>(n));
      if (n == 0)
        empty_dim = true;
      else
        nonzero *= n;
    }
    const uint64_t numel = empty_dim ? 0 : nonzero;

    ENTRY_CHECK(off->is_array() && off->size() == 2 && (*off)[0].is_number_unsigned() &&
                    (*off)[1].is_number_unsigned(),
                "data_offsets must be [begin, end] with non-negative integers, got ", show(*off));
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    ENTRY_CHECK(e.begin <= e.end, "data_offsets [", e.begin, ", ", e.end, "] end before they begin");
    ENTRY_CHECK(e.end <= data_len, "data_offsets [", e.begin, ", ", e.end, "] run past the end of the ",
                data_len, "-byte data region (truncated file?)");
    const uint64_t esize = dtype_size(e.dtype);
    ENTRY_CHECK(numel * esize == e.end - e.begin, "shape ", e.sizes.str(), " of ", dts, " needs ",
                numel * esize, " bytes but data_offsets [", e.begin, ", ", e.end, "] hold ", e.end - e.begin);
    entries_.push_back(std::move(e));
  }

  // The entries sorted by offset must tile the data region exactly.
  std::sort(entries_.begin(), entries_.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t expect = 0;
  for (const SafetensorsEntry& e : entries_) {
    PRISM_CHECK(e.begin == expect, INVALID_ARGUMENT, "safetensors: '", src, "': tensor '", e.name,
                "' starts at byte ", e.begin, " of the data region, but the previous tensor ends at ", expect,
                e.begin < expect ? " (overlapping tensors)" : " (a gap)");
    expect = e.end;
  }
  PRISM_CHECK(expect == data_len, INVALID_ARGUMENT, "safetensors: '", src, "': the tensors cover ", expect,
              " bytes but the data region holds ", data_len, " (trailing bytes)");
}

#undef ENTRY_CHECK

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  for (const SafetensorsEntry& e : entries_)
    if (e.name == name) return e;
  PRISM_FAIL(INVALID_ARGUMENT, "safetensors: '", source_, "' has no tensor named '", name, "'");
}

Tensor SafetensorsFile::tensor(const std::string& name, Device* device) const {
  const SafetensorsEntry& e = entry(name);
  PRISM_ASSERT(data_start_ + e.end <= bytes_.size());
  const unsigned char* p = bytes_.data() + data_start_ + e.begin;
  if (e.dtype == PRISM_DTYPE_BOOL) {
    for (uint64_t i = 0; i < e.end - e.begin; ++i)
      PRISM_CHECK(p[i] <= 1, INVALID_ARGUMENT, "safetensors: '", source_, "': tensor '", name,
                  "': BOOL element ", i, " holds byte ", static_cast<int>(p[i]), " (expected 0 or 1)");
  }
  PRISM_CHECK(device != nullptr, INVALID_ARGUMENT, "safetensors: no device given for tensor '", name, "'");
  return from_host(p, e.sizes, e.dtype, device);
}

// ---- writing ------------------------------------------------------------------------------------

std::vector<unsigned char> serialize_safetensors(
    const std::vector<std::string>& names, const std::vector<Tensor>& tensors,
    const std::vector<std::pair<std::string, std::string>>& metadata) {
  PRISM_CHECK(host_is_little_endian(), UNIMPLEMENTED, "safetensors: writing needs a little-endian host");
  PRISM_CHECK(names.size() == tensors.size(), INVALID_ARGUMENT, "safetensors: ", names.size(), " names for ",
              tensors.size(), " tensors");
  std::set<std::string> seen;
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& n = names[i];
    PRISM_CHECK(!n.empty(), INVALID_ARGUMENT, "safetensors: tensor ", i, " has an empty name");
    PRISM_CHECK(n != "__metadata__", INVALID_ARGUMENT,
                "safetensors: '__metadata__' is reserved, not a tensor name");
    PRISM_CHECK(seen.insert(n).second, INVALID_ARGUMENT, "safetensors: tensor name '", n, "' is used twice");
    PRISM_CHECK(tensors[i] != nullptr, INVALID_ARGUMENT, "safetensors: tensor '", n, "' is NULL");
    safetensors_dtype_name(tensors[i]->dtype);  // throws for a dtype without a name
  }
  std::set<std::string> meta_seen;
  for (const auto& kv : metadata)
    PRISM_CHECK(meta_seen.insert(kv.first).second, INVALID_ARGUMENT, "safetensors: metadata key '", kv.first,
                "' is used twice");

  std::vector<size_t> order(names.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    size_t sa = tensors[a]->element_size(), sb = tensors[b]->element_size();
    return sa != sb ? sa > sb : names[a] < names[b];
  });

  json header = json::object();
  uint64_t offset = 0;
  for (size_t i : order) {
    const Tensor& t = tensors[i];
    const uint64_t bytes = static_cast<uint64_t>(t->numel()) * t->element_size();
    header[names[i]] = {{"dtype", safetensors_dtype_name(t->dtype)},
                        {"shape", std::vector<int64_t>(t->sizes.begin(), t->sizes.end())},
                        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  if (!metadata.empty()) {
    json m = json::object();
    for (const auto& kv : metadata) m[kv.first] = kv.second;
    header["__metadata__"] = m;
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const json::exception& e) {  // invalid UTF-8 in a name or value
    PRISM_FAIL(INVALID_ARGUMENT,
               "safetensors: a tensor name or metadata string is not valid UTF-8: ", e.what());
  }
  while (text.size() % 8 != 0) text.push_back(' ');

  std::vector<unsigned char> out(8 + text.size() + offset);
  write_u64_le(out.data(), text.size());
  std::memcpy(out.data() + 8, text.data(), text.size());
  unsigned char* data = out.data() + 8 + text.size();
  for (size_t i : order) {
    const Tensor& t = tensors[i];
    const size_t bytes = static_cast<size_t>(t->numel()) * t->element_size();
    copy_to_host(t, data, bytes);
    data += bytes;
  }
  return out;
}

namespace {

[[noreturn]] void io_fail(const std::string& what, const std::string& path, int err) {
  PRISM_FAIL(IO, "safetensors: ", what, " '", path, "': ", std::strerror(err));
}

// The process umask without changing it (Linux reports it in /proc).
mode_t current_umask() {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  mode_t mask = 022;
  if (f == nullptr) return mask;
  char line[256];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    unsigned int m = 0;
    if (std::sscanf(line, "Umask: %o", &m) == 1) {
      mask = static_cast<mode_t>(m);
      break;
    }
  }
  std::fclose(f);
  return mask;
}

// Writes all of `data` to `fd` with SIGXFSZ blocked in this thread, so that
// RLIMIT_FSIZE gives EFBIG; a SIGXFSZ raised by this write is consumed.
// Returns 0 or an errno value.
int write_all(int fd, const unsigned char* data, size_t n) {
  sigset_t xfsz, old, pending_before;
  sigemptyset(&xfsz);
  sigaddset(&xfsz, SIGXFSZ);
  pthread_sigmask(SIG_BLOCK, &xfsz, &old);
  sigpending(&pending_before);
  const bool was_pending = sigismember(&pending_before, SIGXFSZ) == 1;
  int err = 0;
  size_t done = 0;
  while (done < n) {
    const ssize_t put = ::write(fd, data + done, n - done);
    if (put < 0 && errno == EINTR) continue;
    if (put < 0) {
      err = errno;
      break;
    }
    if (put == 0) {
      err = ENOSPC;
      break;
    }
    done += static_cast<size_t>(put);
  }
  if (!was_pending) {
    sigset_t now;
    sigpending(&now);
    if (sigismember(&now, SIGXFSZ) == 1) {
      const struct timespec zero = {0, 0};
      sigtimedwait(&xfsz, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return err;
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::string>& names,
                      const std::vector<Tensor>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  PRISM_CHECK(!path.empty(), INVALID_ARGUMENT, "safetensors: the path is empty");
  std::vector<unsigned char> bytes = serialize_safetensors(names, tensors, metadata);

  // Note [Atomic checkpoint save]: follow a symlink as the final path; the
  // target must be a regular file or absent.
  std::string target = path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
    char* real = ::realpath(path.c_str(), nullptr);
    if (real == nullptr) {
      const int err = errno;
      PRISM_FAIL(IO, "safetensors: cannot save to '", path,
                 "': it is a symbolic link that does not resolve (", std::strerror(err), ")");
    }
    target = real;
    std::free(real);
  }
  mode_t mode = 0;
  if (::stat(target.c_str(), &st) == 0) {
    PRISM_CHECK(S_ISREG(st.st_mode), IO, "safetensors: cannot save to '", path,
                "': it exists and is not a regular file (directory, FIFO, socket or device)");
    mode = st.st_mode & 07777;
  } else if (errno != ENOENT) {
    io_fail("cannot save to", path, errno);
  } else {
    mode = 0666 & ~current_umask();
  }
  const size_t slash = target.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : target.substr(0, slash));
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::string tmp = (dir == "/" ? "" : dir) + "/." + base + ".tmp-XXXXXX";
  std::vector<char> tmpl(tmp.begin(), tmp.end());
  tmpl.push_back('\0');
  const int fd = ::mkostemp(tmpl.data(), O_CLOEXEC);  // O_CREAT|O_EXCL, mode 0600
  if (fd < 0) io_fail("cannot create a temporary file in the directory of", path, errno);
  tmp = tmpl.data();
  auto fail = [&](const char* what, int err) {
    ::close(fd);
    ::unlink(tmp.c_str());
    PRISM_FAIL(IO, "safetensors: ", what, " '", path, "' (temporary file '", tmp,
               "') failed: ", std::strerror(err), " (the previous file, if any, is unchanged)");
  };
  if (::fchmod(fd, mode) != 0) fail("setting the permissions of", errno);
  if (const int err = write_all(fd, bytes.data(), bytes.size())) {
    ::close(fd);
    ::unlink(tmp.c_str());
    PRISM_FAIL(IO, "safetensors: writing ", bytes.size(), " bytes to '", path,
               "' failed: ", std::strerror(err), " (the previous file, if any, is unchanged)");
  }
  if (::fsync(fd) != 0) fail("flushing", errno);
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("closing the temporary file for", path, err);
  }
  if (::rename(tmp.c_str(), target.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("cannot replace", path, err);
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    const int rc = ::fsync(dfd);
    const int err = errno;
    ::close(dfd);
    // Some file systems cannot fsync a directory (EINVAL): the rename is done.
    if (rc != 0 && err != EINVAL && err != EROFS) io_fail("flushing the directory of", path, err);
  }
}

}  // namespace prism::io
