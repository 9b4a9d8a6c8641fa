// distributed.cpp — prism._C bindings of the distributed C ABI (prism.h "Distributed"): init, groups,
// collectives and work handles. prism.distributed (Python) builds torch.distributed's API on them.
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "tensor.h"

using namespace nb::literals;  // NOLINT(google-build-using-namespace): as the other binding files

namespace prism_py {
namespace {

// Note [The GIL around collectives]
// ---------------------------------
// A blocking collective waits for every rank (seconds, up to the group's
// timeout), and so do init, barrier and Work.wait. Each C call that may
// block runs with the GIL released so that other Python threads (a data
// loader, a progress reporter, a second collective on another group) run
// meanwhile. The tensor handles stay valid: the Python objects that own them
// are the call's arguments, alive until it returns. prism_last_error() is
// per thread, so the status is turned into an exception after the GIL is
// taken back, on the same thread.
template <typename F>
prism_status without_gil(F&& f) {
  nb::gil_scoped_release nogil;
  return f();
}

// One owned prism_process_group_t (a sub-group; the world is None in Python).
struct GroupHandle {
  prism_process_group_t h = nullptr;
  explicit GroupHandle(prism_process_group_t g) : h(g) {}
  GroupHandle(const GroupHandle&) = delete;
  GroupHandle& operator=(const GroupHandle&) = delete;
  // Releasing a group waits for its issued collectives: without the GIL
  // when this thread holds it (the usual case, a Python object collected).
  ~GroupHandle() {
    if (h == nullptr) return;
    if (PyGILState_Check() != 0) {
      nb::gil_scoped_release nogil;
      prism_process_group_release(h);
    } else {
      prism_process_group_release(h);
    }
  }
  // Releases the handle now (waits for its issued collectives); later calls fail clearly.
  void release() {
    prism_process_group_t g = std::exchange(h, nullptr);
    check(without_gil([&] { return prism_process_group_release(g); }));
  }
  prism_process_group_t get(const char* op) const {
    if (h == nullptr) {
      throw Error(PRISM_ERROR_INVALID_ARGUMENT,
                  std::string(op) + ": the process group was destroyed (destroy_process_group or release)");
    }
    return h;
  }
};

// One owned prism_work_t.
struct WorkHandle {
  prism_work_t h = nullptr;
  explicit WorkHandle(prism_work_t w) : h(w) {}
  WorkHandle(const WorkHandle&) = delete;
  WorkHandle& operator=(const WorkHandle&) = delete;
  ~WorkHandle() { prism_work_release(h); }
};

prism_process_group_t group_arg(const GroupHandle* g, const char* op) {
  return g == nullptr ? nullptr : g->get(op);
}

// Runs a collective `f(prism_work_t*)`: blocking without the GIL (returns None), or async (returns the work).
template <typename F>
nb::object issue(bool async_op, F&& f) {
  if (!async_op) {
    check(without_gil([&] { return f(nullptr); }));
    return nb::none();
  }
  prism_work_t w = nullptr;
  check(without_gil([&] { return f(&w); }));
  return nb::cast(new WorkHandle(w), nb::rv_policy::take_ownership);
}

prism_reduce_op op_arg(int op) {
  if (op < PRISM_REDUCE_SUM || op > PRISM_REDUCE_PROD) {
    throw Error(PRISM_ERROR_INVALID_ARGUMENT,
                "reduce op " + std::to_string(op) + " is not one of ReduceOp.SUM, AVG, MAX, MIN, PRODUCT");
  }
  return static_cast<prism_reduce_op>(op);
}

}  // namespace
}  // namespace prism_py

void register_distributed(nb::module_& m) {
  using prism_py::check;
  using prism_py::group_arg;
  using prism_py::GroupHandle;
  using prism_py::issue;
  using prism_py::op_arg;
  using prism_py::tensor_arg;
  using prism_py::without_gil;
  using prism_py::WorkHandle;

  // Rank and size of a group come from _dist_rank / _dist_world_size, which take a group or None.
  nb::class_<GroupHandle>(m, "_GroupHandle", "A sub-group of the world (prism_process_group_t).")
      .def_prop_ro(
          "released", [](const GroupHandle& g) { return g.h == nullptr; }, "True once release() ran.")
      .def("release", &GroupHandle::release,
           "prism_process_group_release: waits for the group's issued collectives and frees it.");

  nb::class_<WorkHandle>(m, "_WorkHandle", "An issued collective (prism_work_t).")
      .def(
          "wait",
          [](const WorkHandle& w, int64_t timeout_ms) {
            check(without_gil([&] { return prism_work_wait(w.h, timeout_ms); }));
          },
          "timeout_ms"_a = 0,
          "Blocks (without the GIL) until the collective completed and its staged result was copied back; "
          "timeout_ms <= 0: the group's timeout.")
      .def(
          "is_completed",
          [](const WorkHandle& w) {
            int32_t done = 0;
            check(prism_work_is_completed(w.h, &done));
            return done != 0;
          },
          "True when the collective finished (wait() still copies a staged result back).");

  m.def(
      "_dist_init",
      [](const std::string& backend, int32_t rank, int32_t world_size, const std::string& master_addr,
         int32_t master_port, int64_t timeout_ms) {
        check(without_gil([&] {
          return prism_dist_init_with(backend.empty() ? nullptr : backend.c_str(), rank, world_size,
                                      master_addr.empty() ? nullptr : master_addr.c_str(), master_port,
                                      timeout_ms);
        }));
      },
      "backend"_a, "rank"_a, "world_size"_a, "master_addr"_a, "master_port"_a, "timeout_ms"_a,
      "prism_dist_init_with (without the GIL): '' / -1 / 0 read the PRISM_* environment.");
  m.def(
      "_dist_is_initialized", [] { return prism_dist_is_initialized() != 0; }, "prism_dist_is_initialized.");
  m.def(
      "_dist_finalize", [] { check(without_gil([] { return prism_dist_finalize(); })); },
      "prism_dist_finalize (without the GIL): waits for the world's issued collectives, then leaves.");
  m.def(
      "_dist_rank",
      [](const GroupHandle* g) {
        int32_t r = 0;
        check(prism_dist_rank(group_arg(g, "get_rank"), &r));
        return r;
      },
      "group"_a.none(), "This process's rank in `group` (None: the world).");
  m.def(
      "_dist_world_size",
      [](const GroupHandle* g) {
        int32_t n = 0;
        check(prism_dist_world_size(group_arg(g, "get_world_size"), &n));
        return n;
      },
      "group"_a.none(), "The number of ranks of `group` (None: the world).");
  m.def(
      "_dist_backend",
      [] {
        const char* name = nullptr;
        check(prism_dist_backend(&name));
        return std::string(name);
      },
      "The communicator plugin's name.");
  m.def(
      "_dist_new_group",
      [](const std::vector<int32_t>& ranks) -> nb::object {
        prism_process_group_t g = nullptr;
        check(without_gil([&] { return prism_dist_new_group(ranks.data(), ranks.size(), &g); }));
        if (g == nullptr) return nb::none();
        return nb::cast(new GroupHandle(g), nb::rv_policy::take_ownership);
      },
      "ranks"_a, "prism_dist_new_group (collective over the world): a group handle, or None on non-members.");

  m.def(
      "_dist_all_reduce",
      [](nb::handle t, int op, const GroupHandle* g, bool async_op) {
        prism_tensor_t h = tensor_arg(t, "all_reduce: tensor");
        prism_reduce_op o = op_arg(op);
        prism_process_group_t pg = group_arg(g, "all_reduce");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_all_reduce(pg, h, o, w); });
      },
      "tensor"_a, "op"_a, "group"_a.none(), "async_op"_a);
  m.def(
      "_dist_broadcast",
      [](nb::handle t, int32_t root, const GroupHandle* g, bool async_op) {
        prism_tensor_t h = tensor_arg(t, "broadcast: tensor");
        prism_process_group_t pg = group_arg(g, "broadcast");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_broadcast(pg, h, root, w); });
      },
      "tensor"_a, "root"_a, "group"_a.none(), "async_op"_a, "root: a rank of the group.");
  m.def(
      "_dist_all_gather",
      [](nb::handle out, nb::handle in, const GroupHandle* g, bool async_op) {
        prism_tensor_t o = tensor_arg(out, "all_gather: output");
        prism_tensor_t i = tensor_arg(in, "all_gather: input");
        prism_process_group_t pg = group_arg(g, "all_gather");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_all_gather(pg, o, i, w); });
      },
      "output"_a, "input"_a, "group"_a.none(), "async_op"_a);
  m.def(
      "_dist_reduce_scatter",
      [](nb::handle out, nb::handle in, int op, const GroupHandle* g, bool async_op) {
        prism_tensor_t o = tensor_arg(out, "reduce_scatter: output");
        prism_tensor_t i = tensor_arg(in, "reduce_scatter: input");
        prism_reduce_op r = op_arg(op);
        prism_process_group_t pg = group_arg(g, "reduce_scatter");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_reduce_scatter(pg, o, i, r, w); });
      },
      "output"_a, "input"_a, "op"_a, "group"_a.none(), "async_op"_a);
  m.def(
      "_dist_barrier",
      [](const GroupHandle* g, bool async_op) {
        prism_process_group_t pg = group_arg(g, "barrier");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_barrier(pg, w); });
      },
      "group"_a.none(), "async_op"_a);
  m.def(
      "_dist_send",
      [](nb::handle t, int32_t dst, const GroupHandle* g, int32_t tag, bool async_op) {
        prism_tensor_t h = tensor_arg(t, "send: tensor");
        prism_process_group_t pg = group_arg(g, "send");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_send(pg, h, dst, tag, w); });
      },
      "tensor"_a, "dst"_a, "group"_a.none(), "tag"_a, "async_op"_a, "dst: a rank of the group.");
  m.def(
      "_dist_recv",
      [](nb::handle t, int32_t src, const GroupHandle* g, int32_t tag, bool async_op) {
        prism_tensor_t h = tensor_arg(t, "recv: tensor");
        prism_process_group_t pg = group_arg(g, "recv");
        return issue(async_op, [&](prism_work_t* w) { return prism_dist_recv(pg, h, src, tag, w); });
      },
      "tensor"_a, "src"_a, "group"_a.none(), "tag"_a, "async_op"_a, "src: a rank of the group.");
}
