// idx.cpp — the IDX reader (Note [IDX format]).
#include "core/io/idx.hpp"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>

#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace prism::io {

namespace {

constexpr size_t kMaxFileBytes = size_t{1} << 34;  // 16 GiB of decompressed data

uint32_t read_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

Tensor parse_idx(const unsigned char* data, size_t n, const std::string& source, Device* device) {
  PRISM_CHECK(data != nullptr || n == 0, INVALID_ARGUMENT, "load_idx: buffer is NULL");
  PRISM_CHECK(n >= 4, INVALID_ARGUMENT, "load_idx: '", source, "' is truncated: ", n,
              " bytes, but the magic number alone takes 4");
  PRISM_CHECK(data[0] == 0 && data[1] == 0, INVALID_ARGUMENT, "load_idx: '", source,
              "' is not an IDX file (the magic number must start with two zero bytes)");
  prism_dtype dt;
  switch (data[2]) {
    case 0x08:
      dt = PRISM_DTYPE_U8;
      break;
    case 0x09:
      dt = PRISM_DTYPE_I8;
      break;
    case 0x0B:
      dt = PRISM_DTYPE_I16;
      break;
    case 0x0C:
      dt = PRISM_DTYPE_I32;
      break;
    case 0x0D:
      dt = PRISM_DTYPE_F32;
      break;
    case 0x0E:
      dt = PRISM_DTYPE_F64;
      break;
    default:
      PRISM_FAIL(INVALID_ARGUMENT, "load_idx: '", source, "' has unknown IDX type code 0x", std::hex,
                 static_cast<int>(data[2]));
  }
  const int ndim = data[3];
  PRISM_CHECK(ndim >= 1 && ndim <= PRISM_MAX_DIMS, INVALID_ARGUMENT, "load_idx: '", source, "' has ", ndim,
              " dims; 1 to ", PRISM_MAX_DIMS, " are supported");
  const size_t header = 4 + 4 * static_cast<size_t>(ndim);
  PRISM_CHECK(n >= header, INVALID_ARGUMENT, "load_idx: '", source, "' is truncated inside its ", ndim,
              "-dim header (", n, " bytes)");
  // The product of the non-zero sizes stays far from overflow even when a
  // zero size makes the tensor empty (strides are computed from it).
  constexpr uint64_t kMaxElements = uint64_t{1} << 40;
  Dims sizes;
  uint64_t nonzero = 1;
  bool empty_dim = false;
  for (int i = 0; i < ndim; ++i) {
    const uint32_t s = read_be32(data + 4 + 4 * i);
    sizes.push_back(s);
    PRISM_CHECK(s == 0 || nonzero <= kMaxElements / s, INVALID_ARGUMENT, "load_idx: '", source, "': sizes ",
                sizes.str(), "... are too large");
    if (s == 0)
      empty_dim = true;
    else
      nonzero *= s;
  }
  const uint64_t numel = empty_dim ? 0 : nonzero;
  const size_t esize = dtype_size(dt);
  const uint64_t want = numel * esize;
  PRISM_CHECK(n - header == want, INVALID_ARGUMENT, "load_idx: '", source, "': ", dtype_name(dt), sizes.str(),
              " needs ", want, " data bytes but the file has ", n - header,
              n - header < want ? " (truncated)" : " (trailing bytes)");
  const unsigned char* src = data + header;
  if (esize == 1) return from_host(src, sizes, dt, device);
  std::vector<unsigned char> host(static_cast<size_t>(want));
  for (size_t i = 0; i < static_cast<size_t>(numel); ++i)
    for (size_t b = 0; b < esize; ++b) host[i * esize + b] = src[i * esize + (esize - 1 - b)];
  return from_host(host.data(), sizes, dt, device);
}

// Note [IDX header first]: the magic number and the sizes are read and
// checked first; the data then is read in pieces up to exactly the size the
// header declares, plus one byte to detect trailing data. A small gzip file
// that inflates to gigabytes (a "gzip bomb") therefore costs at most the
// declared size, and a header declaring more than kMaxFileBytes is refused
// before anything is allocated.
Tensor load_idx(const std::string& path, Device* device) {
  struct stat st {};
  PRISM_CHECK(::stat(path.c_str(), &st) == 0, INVALID_ARGUMENT, "load_idx: cannot open '", path,
              "': ", std::strerror(errno));
  PRISM_CHECK(S_ISREG(st.st_mode), INVALID_ARGUMENT, "load_idx: '", path, "' is not a regular file");
  gzFile f = gzopen(path.c_str(), "rb");
  PRISM_CHECK(f != nullptr, INVALID_ARGUMENT, "load_idx: cannot open '", path,
              "': ", errno != 0 ? std::strerror(errno) : "out of memory");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, &gzclose);
  // Reads up to `n` bytes into `dst`; returns how many (fewer only at the end).
  auto read = [&](unsigned char* dst, size_t n) {
    size_t got_total = 0;
    while (got_total < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got_total, 1u << 20));
      const int got = gzread(f, dst + got_total, chunk);
      if (got < 0) {
        int code = 0;
        const char* msg = gzerror(f, &code);
        PRISM_FAIL(INVALID_ARGUMENT, "load_idx: reading '", path,
                   "' failed: ", msg != nullptr ? msg : "error",
                   code == Z_ERRNO ? std::string(" (") + std::strerror(errno) + ")" : std::string());
      }
      if (got == 0) break;
      got_total += static_cast<size_t>(got);
    }
    return got_total;
  };
  std::vector<unsigned char> bytes(4);
  bytes.resize(read(bytes.data(), 4));
  if (bytes.size() == 4 && bytes[0] == 0 && bytes[1] == 0 && bytes[3] >= 1 && bytes[3] <= PRISM_MAX_DIMS) {
    const size_t header = 4 + 4 * static_cast<size_t>(bytes[3]);
    bytes.resize(header);
    bytes.resize(4 + read(bytes.data() + 4, header - 4));
    if (bytes.size() == header) {
      // The declared data size; parse_idx checks the fields again (and says what is wrong).
      uint64_t want = 1;
      bool fits = true;
      for (size_t i = 4; i < header && fits; i += 4) {
        const uint64_t d = read_be32(bytes.data() + i);
        fits = d == 0 || want <= kMaxFileBytes / d;
        want = d == 0 ? 0 : want * d;
      }
      const size_t esize = bytes[2] == 0x0B                       ? 2
                           : bytes[2] == 0x0C || bytes[2] == 0x0D ? 4
                           : bytes[2] == 0x0E                     ? 8
                                                                  : 1;
      PRISM_CHECK(fits && want <= kMaxFileBytes / esize, INVALID_ARGUMENT, "load_idx: '", path,
                  "': the header declares more than ", kMaxFileBytes, " bytes of data");
      const size_t data = static_cast<size_t>(want) * esize;
      bytes.resize(header + data + 1);  // one more byte: trailing data is an error
      bytes.resize(header + read(bytes.data() + header, data + 1));
    }
  }
  // A damaged gzip stream ends early without an error from gzread.
  int code = Z_OK;
  gzerror(f, &code);
  PRISM_CHECK(code == Z_OK || code == Z_BUF_ERROR, INVALID_ARGUMENT, "load_idx: '", path,
              "' is a damaged gzip file");
  PRISM_CHECK(code != Z_BUF_ERROR, INVALID_ARGUMENT, "load_idx: '", path, "' is a truncated gzip file");
  return parse_idx(bytes.data(), bytes.size(), path, device);
}

}  // namespace prism::io
