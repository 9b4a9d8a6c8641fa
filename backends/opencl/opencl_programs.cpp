// opencl_programs.cpp — builds the embedded kernel sources per device, with an in-memory and an on-disk
// program cache.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "opencl_internal.hpp"

namespace prism::opencl {
namespace {

// ===========================================================================
// Note [Program cache]
// ---------------------------------------------------------------------------
// A program is identified by its full source text and its build options.
// In memory: Device::programs maps "<source>|<options>" to the built
// program, and Device::kernels to its one kernel object, for the life of the
// plugin context.
// On disk: <cache dir>/<key>.clbin where key = FNV-1a 64 of (platform name
// and version, device name, driver version, options, source). The file is
//   "PRISMCL1" | u64 payload bytes | u64 FNV-1a 64 of the payload | payload
// (the payload is the CL_PROGRAM_BINARIES of the device). An entry is used
// only when the magic, the length and the hash match and
// clCreateProgramWithBinary + clBuildProgram accept it; anything else
// (truncated, corrupt, from another driver) is deleted and the program is
// rebuilt from source and written again. Files are written to a temporary
// name and renamed, so a concurrent reader never sees half a file. The cache
// directory is $PRISM_CACHE_DIR/opencl, else $XDG_CACHE_HOME/prism/opencl,
// else ~/.cache/prism/opencl; a directory that cannot be created disables
// the disk cache silently (building from source always works).
// $PRISM_OPENCL_BUILD_OPTIONS is appended to every build's options (and so
// is part of the key): a tuning and debugging knob, e.g.
// "-cl-fast-relaxed-math" to trade accuracy for speed.
// ===========================================================================

uint64_t fnv1a(const void* data, size_t n, uint64_t h = 1469598103934665603ull) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

uint64_t fnv1a(const std::string& s, uint64_t h) {
  h = fnv1a(s.data(), s.size(), h);
  return fnv1a("\0", 1, h);
}

bool make_dirs(const std::string& path) {
  if (path.empty()) return false;
  std::string partial;
  for (size_t i = 0; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      if (!partial.empty() && mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
    if (i < path.size()) partial.push_back(path[i]);
  }
  return true;
}

constexpr char kMagic[8] = {'P', 'R', 'I', 'S', 'M', 'C', 'L', '1'};

bool read_cache(const std::string& file, std::vector<unsigned char>* payload) {
  std::FILE* f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) return false;
  char magic[8];
  uint64_t size = 0, hash = 0;
  bool ok = std::fread(magic, 1, 8, f) == 8 && std::memcmp(magic, kMagic, 8) == 0 &&
            std::fread(&size, sizeof size, 1, f) == 1 && std::fread(&hash, sizeof hash, 1, f) == 1 &&
            size > 0 && size < (uint64_t{1} << 32);
  if (ok) {
    payload->resize(static_cast<size_t>(size));
    ok = std::fread(payload->data(), 1, payload->size(), f) == payload->size() && std::fgetc(f) == EOF &&
         fnv1a(payload->data(), payload->size()) == hash;
  }
  std::fclose(f);
  return ok;
}

void write_cache(const std::string& dir, const std::string& file, const std::vector<unsigned char>& payload) {
  if (!make_dirs(dir)) return;
  const std::string tmp = file + ".tmp" + std::to_string(static_cast<long>(getpid()));
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return;
  const uint64_t size = payload.size();
  const uint64_t hash = fnv1a(payload.data(), payload.size());
  bool ok = std::fwrite(kMagic, 1, 8, f) == 8 && std::fwrite(&size, sizeof size, 1, f) == 1 &&
            std::fwrite(&hash, sizeof hash, 1, f) == 1 &&
            std::fwrite(payload.data(), 1, payload.size(), f) == payload.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), file.c_str()) != 0) std::remove(tmp.c_str());
}

std::string build_log(Device& dev, cl_program program) {
  size_t n = 0;
  clGetProgramBuildInfo(program, dev.id, CL_PROGRAM_BUILD_LOG, 0, nullptr, &n);
  std::string log(n, '\0');
  if (n > 0) clGetProgramBuildInfo(program, dev.id, CL_PROGRAM_BUILD_LOG, n, &log[0], nullptr);
  log.resize(std::strlen(log.c_str()));
  return log;
}

std::string compose_source(Source source) {
  std::string s = kSrcDialect;
  s += kSrcDialectMath;
  s += kSrcTypes;
  switch (source) {
    case Source::kElementwise:
      s += kSrcElementwise;
      break;
    case Source::kReduce:
      s += kSrcReduce;
      break;
    case Source::kRandom:
      s += kSrcPhilox;
      s += kSrcElementwise;  // prism_gk_offsets
      s += kSrcRandom;
      break;
    case Source::kGemm:
      s += kSrcGemm;
      break;
  }
  return s;
}

const char* source_name(Source source) {
  switch (source) {
    case Source::kElementwise:
      return "elementwise";
    case Source::kReduce:
      return "reduce";
    case Source::kRandom:
      return "random";
    case Source::kGemm:
      return "gemm";
  }
  return "?";
}

// Builds `program` for the device; on failure returns an error with the log.
prism_plugin_error* build(Device& dev, cl_program program, const std::string& options, Source source) {
  const cl_int rc = clBuildProgram(program, 1, &dev.id, options.c_str(), nullptr, nullptr);
  if (rc == CL_SUCCESS) return nullptr;
  const std::string log = build_log(dev, program);
  return PRISM_OCL_ERROR(
      PRISM_ERROR_INTERNAL,
      "opencl: building the '%s' kernels for '%s' failed: %s (%d); options: %s; build log:\n%s",
      source_name(source), dev.name.c_str(), cl_error_name(rc), static_cast<int>(rc), options.c_str(),
      log.c_str());
}

}  // namespace

prism_plugin_error* get_kernel(Context& ctx, Device& dev, Source source, const std::string& defines,
                               const char* kernel_name, cl_kernel* kernel) {
  const std::string mem_key = std::string(source_name(source)) + "|" + defines;
  auto it = dev.kernels.find(mem_key);
  if (it != dev.kernels.end()) {
    *kernel = it->second;
    return nullptr;
  }
  std::string options = "-cl-std=CL1.2 " + defines;
  if (dev.fp64) options += " -DPRISM_GK_ENABLE_FP64";
  if (!ctx.extra_build_options.empty()) options += " " + ctx.extra_build_options;
  const std::string src = compose_source(source);

  uint64_t key = fnv1a(dev.platform_name, 1469598103934665603ull);
  key = fnv1a(dev.platform_version, key);
  key = fnv1a(dev.name, key);
  key = fnv1a(dev.driver, key);
  key = fnv1a(options, key);
  key = fnv1a(src, key);
  char name[40];
  std::snprintf(name, sizeof name, "%016llx.clbin", static_cast<unsigned long long>(key));
  const std::string file = ctx.cache_dir.empty() ? std::string() : ctx.cache_dir + "/" + name;

  cl_program program = nullptr;
  cl_int rc = CL_SUCCESS;
  std::vector<unsigned char> payload;
  if (!file.empty() && read_cache(file, &payload)) {
    const unsigned char* bin = payload.data();
    const size_t bin_size = payload.size();
    cl_int status = CL_SUCCESS;
    program = clCreateProgramWithBinary(dev.context, 1, &dev.id, &bin_size, &bin, &status, &rc);
    if (rc != CL_SUCCESS || status != CL_SUCCESS) {
      if (program != nullptr) clReleaseProgram(program);
      program = nullptr;
    } else if (clBuildProgram(program, 1, &dev.id, options.c_str(), nullptr, nullptr) != CL_SUCCESS) {
      // a binary the driver refuses is rebuilt from source, never trusted
      g_host->log(PRISM_LOG_DEBUG, "opencl", "cached program binary rejected; rebuilding from source");
      clReleaseProgram(program);
      program = nullptr;
    }
    if (program == nullptr) std::remove(file.c_str());
  }
  if (program == nullptr) {
    const char* text = src.c_str();
    const size_t len = src.size();
    program = clCreateProgramWithSource(dev.context, 1, &text, &len, &rc);
    if (rc != CL_SUCCESS) return cl_error(rc, "clCreateProgramWithSource");
    if (prism_plugin_error* err = build(dev, program, options, source); err != nullptr) {
      clReleaseProgram(program);
      return err;
    }
    if (!file.empty()) {
      size_t bin_size = 0;
      if (clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof bin_size, &bin_size, nullptr) ==
              CL_SUCCESS &&
          bin_size > 0) {
        std::vector<unsigned char> bin(bin_size);
        unsigned char* ptr = bin.data();
        if (clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof ptr, &ptr, nullptr) == CL_SUCCESS) {
          write_cache(ctx.cache_dir, file, bin);
        }
      }
    }
  }
  cl_kernel k = clCreateKernel(program, kernel_name, &rc);
  if (rc != CL_SUCCESS) {
    clReleaseProgram(program);
    return cl_error(rc, "clCreateKernel");
  }
  dev.programs[mem_key] = program;
  dev.kernels[mem_key] = k;
  *kernel = k;
  return nullptr;
}

}  // namespace prism::opencl
