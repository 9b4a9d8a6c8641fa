// cpu_plugin.cpp — entry point, plugin table, device, memory and copies of the CPU plugin (libprism-cpu.so).
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>

#include "cpu_internal.hpp"

namespace prism::cpu {

const prism_host_table* g_host = nullptr;

namespace {

// ===========================================================================
// Device description
// ===========================================================================

struct CpuContext {
  std::string name;
  std::string vendor;
  uint64_t total_memory = 0;
};

uint64_t physical_memory_bytes() {
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page = sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page <= 0) return 0;
  return static_cast<uint64_t>(pages) * static_cast<uint64_t>(page);
}

std::string cpuinfo_field(const char* key) {
  std::FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return {};
  char line[1024];
  std::string value;
  const size_t key_len = std::strlen(key);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, key_len) != 0) continue;
    const char* colon = std::strchr(line, ':');
    if (colon == nullptr) continue;
    value = colon + 1;
    break;
  }
  std::fclose(f);
  const size_t b = value.find_first_not_of(" \t");
  const size_t e = value.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : value.substr(b, e - b + 1);
}

// ===========================================================================
// Lifecycle and devices
// ===========================================================================

prism_plugin_error* cpu_init(void** ctx) {
  CpuContext* c = new (std::nothrow) CpuContext();
  if (c == nullptr) return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "cpu: out of memory in init");
  try {
    c->name = cpuinfo_field("model name");
    c->vendor = cpuinfo_field("vendor_id");
  } catch (...) {
    c->name.clear();
    c->vendor.clear();
  }
  c->total_memory = physical_memory_bytes();
  *ctx = c;
  return nullptr;
}

void cpu_shutdown(void* ctx) {
  delete static_cast<CpuContext*>(ctx);
}

prism_plugin_error* cpu_device_count(void*, int32_t* count, const char** reason) {
  *count = 1;
  if (reason != nullptr) *reason = nullptr;
  return nullptr;
}

prism_plugin_error* check_device(int32_t device) {
  if (device != 0) return PRISM_CPU_INVALID("cpu: no device %d (the CPU plugin has one device)", device);
  return nullptr;
}

prism_plugin_error* cpu_device_props(void* ctx, int32_t device, prism_device_props* props) {
  PRISM_CPU_RETURN_IF_ERROR(check_device(device));
  if (props == nullptr) return PRISM_CPU_INVALID("cpu: device_props: props is NULL");
  const CpuContext* c = static_cast<const CpuContext*>(ctx);
  prism_sdk_device_props_set(props, c->name.c_str(), c->vendor.c_str(), "cpu-host", c->total_memory,
                             PRISM_DTYPE_MASK_ALL | PRISM_DTYPE_MASK_COMPLEX,
                             PRISM_DEVICE_CAP_HOST_MEMORY | PRISM_DEVICE_CAP_FP64 | PRISM_DEVICE_CAP_FP16);
  return nullptr;
}

// ===========================================================================
// Memory (Note [CPU allocations])
// ---------------------------------------------------------------------------
// Buffers are host pointers aligned to 64 bytes (one cache line, one AVX-512
// vector). A request larger than the machine's physical memory is refused
// with OUT_OF_MEMORY before reaching malloc: such a buffer could never be
// used, and some allocators (sanitizers among them) abort instead of
// returning NULL on absurd sizes. A zero-byte request gets a unique 64-byte
// block so every handle is distinct and non-NULL. Buffers of 2 MiB and more
// are aligned to 2 MiB and marked MADV_HUGEPAGE (as PyTorch's
// THP_MEM_ALLOC_ENABLE does): strided walks over big tensors (a transposed
// operand touches a new 4 KiB page every element) then miss the TLB far less.
// The advice is only a hint; where transparent huge pages are off it is a no-op.
// ===========================================================================

constexpr size_t kAlignment = 64;
constexpr size_t kHugePage = size_t{2} << 20;

prism_plugin_error* cpu_alloc(void* ctx, int32_t device, size_t bytes, void** buffer) {
  PRISM_CPU_RETURN_IF_ERROR(check_device(device));
  *buffer = nullptr;
  const uint64_t limit = static_cast<const CpuContext*>(ctx)->total_memory;
  if ((limit != 0 && bytes > limit) || bytes > SIZE_MAX - kAlignment) {
    return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY,
                           "cpu: cannot allocate %zu bytes (host memory is %llu bytes)", bytes,
                           static_cast<unsigned long long>(limit));
  }
  const size_t align = bytes >= kHugePage && bytes <= SIZE_MAX - kHugePage ? kHugePage : kAlignment;
  const size_t rounded = bytes == 0 ? kAlignment : (bytes + align - 1) / align * align;
  void* p = std::aligned_alloc(align, rounded);
  if (p == nullptr) {
    return PRISM_CPU_ERROR(PRISM_ERROR_OUT_OF_MEMORY, "cpu: out of memory allocating %zu bytes", bytes);
  }
  if (align == kHugePage) (void)madvise(p, rounded, MADV_HUGEPAGE);
  *buffer = p;
  return nullptr;
}

void cpu_free(void*, int32_t, void* buffer) {
  std::free(buffer);
}

prism_plugin_error* cpu_copy_from_host(void*, int32_t device, prism_stream_t, const void* src,
                                       void* dst_buffer, uint64_t dst_byte_offset, size_t bytes) {
  PRISM_CPU_RETURN_IF_ERROR(check_device(device));
  if (bytes == 0) return nullptr;
  if (src == nullptr || dst_buffer == nullptr) return PRISM_CPU_INVALID("cpu: copy_from_host: NULL pointer");
  std::memcpy(static_cast<char*>(dst_buffer) + dst_byte_offset, src, bytes);
  return nullptr;
}

prism_plugin_error* cpu_copy_to_host(void*, int32_t device, prism_stream_t, const void* src_buffer,
                                     uint64_t src_byte_offset, void* dst, size_t bytes) {
  PRISM_CPU_RETURN_IF_ERROR(check_device(device));
  if (bytes == 0) return nullptr;
  if (dst == nullptr || src_buffer == nullptr) return PRISM_CPU_INVALID("cpu: copy_to_host: NULL pointer");
  std::memcpy(dst, static_cast<const char*>(src_buffer) + src_byte_offset, bytes);
  return nullptr;
}

prism_plugin_error* cpu_synchronize(void*, int32_t device, prism_stream_t) {
  return check_device(device);
}

// ===========================================================================
// The table
// ===========================================================================

constexpr size_t kMaxKernels = 256;
prism_kernel_def g_kernels[kMaxKernels];
prism_plugin_table g_table;

void build_table() {
  size_t n = 0;
  for (KernelList list :
       {elementwise_kernels(), binary_kernels(), reduce_kernels(), bmm_kernels(), random_kernels(),
        nn_kernels(), index_kernels(), optim_kernels(), complex_kernels(), attention_kernels()}) {
    for (size_t i = 0; i < list.count && n < kMaxKernels; ++i) g_kernels[n++] = list.defs[i];
  }
  prism_plugin_table* t = prism_sdk_table_init(&g_table, "cpu", "0.1.0", g_kernels, n);
  PRISM_SDK_TABLE_REQUIRED_SLOTS(t, cpu);
  // event slots stay NULL: the device is synchronous
}

}  // namespace
}  // namespace prism::cpu

PRISM_SDK_DEFINE_ENTRY("cpu", prism::cpu::g_host, prism::cpu::g_table, prism::cpu::build_table)
