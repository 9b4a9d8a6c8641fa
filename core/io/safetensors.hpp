// safetensors.hpp — reading and writing the safetensors checkpoint format (internal; no compatibility
// promise).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor/tensor.hpp"

namespace prism::io {

// Note [Safetensors format]
// -------------------------
// A safetensors file is: 8 bytes N (unsigned little-endian), N bytes of UTF-8
// JSON, then the data region. The JSON object maps each tensor name to
// {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]} (byte
// offsets relative to the data region) and may hold one "__metadata__" entry,
// a string-to-string map. Data is row-major, little-endian, unaligned.
//
// The reader is strict (it follows the reference implementation's checks and
// adds a few): N <= 100 MB and 8 + N <= file size; the header is a JSON object
// starting with '{' (trailing spaces allowed) with no duplicate names; every
// entry has exactly the three fields; dtype is one of F64 F32 F16 BF16 I64 I32
// I16 I8 U8 BOOL; the shape's element count times the dtype size equals
// end - begin without overflow; the entries, sorted by offset, tile the data
// region exactly (no gap, no overlap, nothing past the end, nothing left
// over); BOOL bytes are 0 or 1. Every error names the source (file path or
// "<memory>") and the tensor. Nothing is read before it has been checked, so
// a corrupt file can never make the reader touch memory outside the buffer
// (tests/unit/safetensors_fuzz_test.cpp mutates files to hold it to that).
//
// Note [Header before data]: open() reads the 8-byte length and the header
// first and validates them against the file's size before it reads (or
// allocates for) the data region, so a huge file with a bad header fails
// after reading at most 8 + N bytes.
//
// Note [Atomic checkpoint save]: save_safetensors writes a new file next to
// the target, created with O_CREAT|O_EXCL under a unique name (mkstemp),
// so the temp file is never a pre-planted symlink and concurrent savers
// (threads or processes) never share one. The data is fsync'ed, the temp
// file renamed over the target (atomic on POSIX), and the directory
// fsync'ed. A symlink as the final path is followed, as numpy.save and
// torch.save do: its target file is replaced and the link stays. The target
// (after following) must be a regular file or absent: directories, FIFOs
// and devices are refused. Any failure (disk full, RLIMIT_FSIZE, EIO)
// removes the temp file and leaves the old target intact, reported as
// PRISM_ERROR_IO. SIGXFSZ from RLIMIT_FSIZE is blocked in the saving thread
// during the write and the one it raised is consumed, so the write fails with
// EFBIG instead of killing the process; signal dispositions are untouched.
//
// The writer sorts tensors by dtype size (largest first), then by name, as
// the reference writer does, so every tensor starts aligned to its element
// size, and pads the header with spaces to a multiple of 8 bytes.

struct SafetensorsEntry {
  std::string name;
  prism_dtype dtype = PRISM_DTYPE_F32;
  Dims sizes;
  uint64_t begin = 0, end = 0;  // bytes, relative to the data region
};

// A parsed file held in memory. Immutable after construction, so it may be
// shared between threads.
class SafetensorsFile {
 public:
  // Reads and validates the whole file at `path`.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  // Validates `bytes` (copied); `source` names the buffer in error messages.
  static std::shared_ptr<SafetensorsFile> from_memory(const void* bytes, size_t n,
                                                      const std::string& source = "<memory>");

  const std::string& source() const { return source_; }
  // In file order (sorted by data offset).
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }
  // The entry named `name`; throws INVALID_ARGUMENT naming the source when absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  // A new tensor on `device` holding the entry's data (map_location).
  Tensor tensor(const std::string& name, Device* device) const;

 private:
  SafetensorsFile() = default;
  // Checks the header in bytes_[0, 8 + N) against a file of `total` bytes;
  // the data region need not be read yet (Note [Header before data]).
  void parse(size_t total);
  std::string source_;
  std::vector<unsigned char> bytes_;
  size_t data_start_ = 0;
  std::vector<SafetensorsEntry> entries_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// Serialises named tensors (any device, any layout) and string metadata to
// the bytes of a safetensors file. Names must be unique, non-empty and not
// "__metadata__".
std::vector<unsigned char> serialize_safetensors(
    const std::vector<std::string>& names, const std::vector<Tensor>& tensors,
    const std::vector<std::pair<std::string, std::string>>& metadata);
// serialize_safetensors() written to `path` (replaced atomically through a
// temporary file in the same directory).
void save_safetensors(const std::string& path, const std::vector<std::string>& names,
                      const std::vector<Tensor>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata);

// "F32" for PRISM_DTYPE_F32, ...
const char* safetensors_dtype_name(prism_dtype dtype);

}  // namespace prism::io
