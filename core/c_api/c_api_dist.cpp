// c_api_dist.cpp — the distributed user C ABI: init, groups, collectives and work handles over core/comm.
#include <memory>
#include <vector>

#include "core/c_api/handle.hpp"
#include "core/comm/process_group.hpp"
#include "prism/prism.h"

struct prism_process_group_s {
  std::shared_ptr<prism::dist::ProcessGroup> pg;
};

struct prism_work_s {
  prism::dist::WorkPtr work;
  int64_t timeout_ms;
};

using prism::capi::arg;
using prism::capi::guard;
using prism::capi::out_arg;

namespace {

std::shared_ptr<prism::dist::ProcessGroup> group_of(prism_process_group_t g, const char* op) {
  if (g != nullptr) return g->pg;
  auto w = prism::dist::world();
  PRISM_CHECK(w != nullptr, INVALID_ARGUMENT, op,
              ": the distributed runtime is not initialized (call prism_dist_init first)");
  return w;
}

// Blocks on the work (work == NULL) or hands it to the caller.
// Issues the collective `issue` makes and blocks on it (work == NULL), or
// hands its work to the caller.
template <typename F>
void finish(F&& issue, prism::dist::ProcessGroup& pg, prism_work_t* work) {
  if (work == nullptr) {
    // The collective bounds itself by the group's timeout; the extra second
    // lets its own (more precise) error arrive first.
    pg.run_blocking(issue, pg.timeout_ms() + 5000);
    return;
  }
  *work = new prism_work_s{issue(), pg.timeout_ms() + 5000};
}

}  // namespace

PRISM_API prism_status prism_dist_init(const char* backend, int64_t timeout_ms) {
  return guard([&] { prism::dist::init(backend, -1, -1, nullptr, 0, timeout_ms); });
}

PRISM_API prism_status prism_dist_init_with(const char* backend, int32_t rank, int32_t world_size,
                                            const char* master_addr, int32_t master_port,
                                            int64_t timeout_ms) {
  return guard([&] { prism::dist::init(backend, rank, world_size, master_addr, master_port, timeout_ms); });
}

PRISM_API int32_t prism_dist_is_initialized(void) {
  return prism::dist::world() != nullptr ? 1 : 0;
}

PRISM_API prism_status prism_dist_finalize(void) {
  return guard([&] { prism::dist::finalize(); });
}

PRISM_API prism_status prism_dist_rank(prism_process_group_t group, int32_t* rank) {
  return guard([&] {
    out_arg(rank, "dist_rank");
    *rank = group_of(group, "dist_rank")->rank();
  });
}

PRISM_API prism_status prism_dist_world_size(prism_process_group_t group, int32_t* size) {
  return guard([&] {
    out_arg(size, "dist_world_size");
    *size = group_of(group, "dist_world_size")->size();
  });
}

PRISM_API prism_status prism_dist_backend(const char** name) {
  return guard([&] {
    out_arg(name, "dist_backend");
    *name = group_of(nullptr, "dist_backend")->backend().c_str();
  });
}

PRISM_API prism_status prism_dist_new_group(const int32_t* ranks, size_t n, prism_process_group_t* out) {
  return guard([&] {
    out_arg(out, "dist_new_group");
    *out = nullptr;
    PRISM_CHECK(ranks != nullptr || n == 0, INVALID_ARGUMENT, "dist_new_group: ranks is NULL with n = ", n);
    auto pg = group_of(nullptr, "dist_new_group")->split(std::vector<int32_t>(ranks, ranks + n));
    if (pg) *out = new prism_process_group_s{std::move(pg)};
  });
}

PRISM_API prism_status prism_process_group_release(prism_process_group_t group) {
  return guard([&] { delete group; });
}

PRISM_API prism_status prism_dist_all_reduce(prism_process_group_t group, prism_tensor_t t,
                                             prism_reduce_op op, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_all_reduce");
    finish(
        [&] { return pg->all_reduce(arg(t, "dist_all_reduce", "t"), static_cast<prism::dist::Reduce>(op)); },
        *pg, work);
  });
}

PRISM_API prism_status prism_dist_broadcast(prism_process_group_t group, prism_tensor_t t, int32_t root,
                                            prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_broadcast");
    finish([&] { return pg->broadcast(arg(t, "dist_broadcast", "t"), root); }, *pg, work);
  });
}

PRISM_API prism_status prism_dist_all_gather(prism_process_group_t group, prism_tensor_t out,
                                             prism_tensor_t in, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_all_gather");
    finish(
        [&] { return pg->all_gather(arg(out, "dist_all_gather", "out"), arg(in, "dist_all_gather", "in")); },
        *pg, work);
  });
}

PRISM_API prism_status prism_dist_reduce_scatter(prism_process_group_t group, prism_tensor_t out,
                                                 prism_tensor_t in, prism_reduce_op op, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_reduce_scatter");
    finish(
        [&] {
          return pg->reduce_scatter(arg(out, "dist_reduce_scatter", "out"),
                                    arg(in, "dist_reduce_scatter", "in"),
                                    static_cast<prism::dist::Reduce>(op));
        },
        *pg, work);
  });
}

PRISM_API prism_status prism_dist_barrier(prism_process_group_t group, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_barrier");
    finish([&] { return pg->barrier(); }, *pg, work);
  });
}

PRISM_API prism_status prism_dist_send(prism_process_group_t group, prism_tensor_t t, int32_t dst,
                                       int32_t tag, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_send");
    finish([&] { return pg->send(arg(t, "dist_send", "t"), dst, tag); }, *pg, work);
  });
}

PRISM_API prism_status prism_dist_recv(prism_process_group_t group, prism_tensor_t t, int32_t src,
                                       int32_t tag, prism_work_t* work) {
  return guard([&] {
    auto pg = group_of(group, "dist_recv");
    finish([&] { return pg->recv(arg(t, "dist_recv", "t"), src, tag); }, *pg, work);
  });
}

PRISM_API prism_status prism_work_wait(prism_work_t work, int64_t timeout_ms) {
  return guard([&] {
    PRISM_CHECK(work != nullptr, INVALID_ARGUMENT, "work_wait: work is NULL");
    work->work->wait(timeout_ms > 0 ? timeout_ms : work->timeout_ms);
  });
}

PRISM_API prism_status prism_work_is_completed(prism_work_t work, int32_t* done) {
  return guard([&] {
    PRISM_CHECK(work != nullptr, INVALID_ARGUMENT, "work_is_completed: work is NULL");
    out_arg(done, "work_is_completed");
    *done = work->work->completed() ? 1 : 0;
  });
}

PRISM_API prism_status prism_work_release(prism_work_t work) {
  return guard([&] { delete work; });
}
