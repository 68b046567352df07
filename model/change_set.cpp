#include "model/change_set.hpp"

#include "model/zk_layout.hpp"

namespace iota::model {

void change_set::touch(instance_id id, bool existed, bool data) {
  auto [it, inserted] = touched_.emplace(id, instance_touch{existed, data});
  if (!inserted)
    it->second.data_changed |= data;
}

void change_set::merge(const change_set& later) {
  for (auto& [id, t] : later.touched_) {
    auto [it, inserted] = touched_.emplace(id, t);
    if (!inserted)
      it->second.data_changed |= t.data_changed;
  }
}

namespace {

zk_op op(zk_op::kind k, std::string path, std::string data = {}, std::int32_t version = -1) {
  return zk_op{k, std::move(path), std::move(data), version};
}

rendered_instance render_one(instance_id id, const instance_touch& t, instance* inst,
                             std::string_view root) {
  rendered_instance r;
  r.id = id;
  using k = zk_op::kind;
  if (inst && !t.existed_before) {
    r.fate = instance_fate::created;
    r.ops.push_back(op(k::create, instance_path(root, id),
                       encode_instance_data(inst->used(), inst->capacity)));
    r.ops.push_back(op(k::create, tmp_path(root, id), encode_tmp()));
    r.ops.push_back(op(k::create, reload_path(root, id), encode_reload(inst->reload_times)));
    r.ops.push_back(op(k::create, resources_path(root, id), inst->ids.bytes()));
  } else if (inst) {
    ++inst->reload_times;
    auto& v = inst->versions;
    if (t.data_changed) {
      r.fate = instance_fate::updated;
      r.ops.push_back(op(k::set, instance_path(root, id),
                         encode_instance_data(inst->used(), inst->capacity), v.data));
      r.ops.push_back(op(k::set, reload_path(root, id), encode_reload(inst->reload_times),
                         v.reload));
      r.ops.push_back(op(k::set, resources_path(root, id), inst->ids.bytes(),
                         v.resources));
    } else {
      r.fate = instance_fate::reloaded;
      r.ops.push_back(op(k::set, reload_path(root, id), encode_reload(inst->reload_times),
                         v.reload));
    }
  } else {
    r.fate = instance_fate::removed;
    // Children first: ZooKeeper deletes only leaves.
    r.ops.push_back(op(k::remove, tmp_path(root, id)));
    r.ops.push_back(op(k::remove, reload_path(root, id)));
    r.ops.push_back(op(k::remove, resources_path(root, id)));
    r.ops.push_back(op(k::remove, instance_path(root, id)));
  }
  for (auto& o : r.ops)
    r.bytes += o.path.size() + o.data.size() + multi_op_overhead;
  return r;
}

int fate_order(instance_fate f) {
  // Removals last: if a later multi of the same change set fails, resources that moved off
  // a drained instance are then on two instances (repaired on load), never on none.
  return f == instance_fate::created ? 0 : f == instance_fate::removed ? 2 : 1;
}

}  // namespace

rendered_change_set render(const change_set& changes, orchestration& state,
                           std::string_view resource_root, std::size_t multi_budget) {
  rendered_change_set out;
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& [id, t] : changes.touched()) {
      auto* inst = state.find(id);
      if (!inst && !t.existed_before)
        continue;  // created and removed again inside one batch: nothing to write
      instance_fate fate = !inst ? instance_fate::removed
                           : t.existed_before ? instance_fate::updated
                                              : instance_fate::created;
      if (fate_order(fate) != pass)
        continue;
      out.instances.push_back(render_one(id, t, inst, resource_root));
    }
  }
  std::size_t used = 0;
  out.removals_from = std::string::npos;
  for (std::size_t i = 0; i < out.instances.size(); ++i) {
    auto b = out.instances[i].bytes;
    bool first_removal = out.instances[i].fate == instance_fate::removed &&
                         out.removals_from == std::string::npos;
    if (out.multis.empty() || used + b > multi_budget || first_removal) {
      out.multis.emplace_back();
      used = 0;
    }
    if (first_removal)
      out.removals_from = out.multis.size() - 1;
    out.multis.back().push_back(i);
    used += b;
  }
  if (out.removals_from == std::string::npos)
    out.removals_from = out.multis.size();
  return out;
}

void record_committed(const rendered_instance& r, orchestration& state) {
  auto* inst = state.find(r.id);
  if (!inst)
    return;
  auto& v = inst->versions;
  switch (r.fate) {
    case instance_fate::created:
      v = znode_versions{0, 0, 0};
      break;
    case instance_fate::updated:
      if (v.data >= 0) ++v.data;
      if (v.reload >= 0) ++v.reload;
      if (v.resources >= 0) ++v.resources;
      break;
    case instance_fate::reloaded:
      if (v.reload >= 0) ++v.reload;
      break;
    case instance_fate::removed:
      break;
  }
}

}  // namespace iota::model
