// idx.cpp — the IDX reader (Note [IDX format]).
#include "core/io/idx.hpp"

#include <zlib.h>

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

Tensor load_idx(const std::string& path, Device* device) {
  gzFile f = gzopen(path.c_str(), "rb");
  PRISM_CHECK(f != nullptr, INVALID_ARGUMENT, "load_idx: cannot open '", path,
              "': ", errno != 0 ? std::strerror(errno) : "out of memory");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> guard(f, &gzclose);
  std::vector<unsigned char> bytes;
  unsigned char buf[1 << 16];
  for (;;) {
    int got = gzread(f, buf, sizeof buf);
    if (got < 0) {
      int code = 0;
      const char* msg = gzerror(f, &code);
      PRISM_FAIL(INVALID_ARGUMENT, "load_idx: reading '", path, "' failed: ", msg != nullptr ? msg : "error",
                 code == Z_ERRNO ? std::string(" (") + std::strerror(errno) + ")" : std::string());
    }
    if (got == 0) break;
    PRISM_CHECK(bytes.size() + static_cast<size_t>(got) <= kMaxFileBytes, INVALID_ARGUMENT, "load_idx: '",
                path, "' holds more than ", kMaxFileBytes, " bytes");
    bytes.insert(bytes.end(), buf, buf + got);
  }
  // A damaged gzip stream ends early without an error from gzread: gzclose reports it.
  int code = Z_OK;
  gzerror(f, &code);
  PRISM_CHECK(code == Z_OK || code == Z_BUF_ERROR, INVALID_ARGUMENT, "load_idx: '", path,
              "' is a damaged gzip file");
  PRISM_CHECK(code != Z_BUF_ERROR, INVALID_ARGUMENT, "load_idx: '", path, "' is a truncated gzip file");
  return parse_idx(bytes.data(), bytes.size(), path, device);
}

}  // namespace prism::io
