#include "model/instance_znodes.hpp"

#include <climits>

#include "model/zk_layout.hpp"

namespace iota::model {

namespace {

std::string excerpt(const std::string& data) {
  constexpr std::size_t max = 80;
  std::string out;
  append_json_string(out, data.size() > max ? data.substr(0, max) + "..." : data);
  return out;
}

std::string node_path(std::string_view root, instance_id id, std::size_t k) {
  switch (k) {
    case 0: return instance_path(root, id);
    case 1: return reload_path(root, id);
    default: return resources_path(root, id);
  }
}

}  // namespace

fetched_instances decode_instances(std::string_view root, std::vector<instance_znodes> read) {
  fetched_instances out;
  for (auto& e : read) {
    bool missing = false;
    for (std::size_t k = 0; k < e.nodes.size(); ++k)
      if (!e.nodes[k].exists) {
        out.problems.push_back(node_path(root, e.id, k) +
                               ": no node (the instance vanished during the fetch or is "
                               "incomplete); instance skipped");
        missing = true;
        break;
      }
    if (missing)
      continue;
    instance inst;
    inst.versions = {e.nodes[0].version, e.nodes[1].version, e.nodes[2].version};
    auto data = decode_instance_data(e.nodes[0].data);
    if (data && data->count >= 0 && data->count <= INT_MAX)
      inst.capacity = static_cast<int>(data->count);
    else
      out.problems.push_back(node_path(root, e.id, 0) + ": cannot decode instance data " +
                             excerpt(e.nodes[0].data) + "; capacity 0 (unknown)");
    if (auto times = decode_reload(e.nodes[1].data))
      inst.reload_times = *times;
    else
      out.problems.push_back(node_path(root, e.id, 1) + ": cannot decode " +
                             excerpt(e.nodes[1].data) + "; times 0");
    if (auto ids = decode_resources(e.nodes[2].data))
      inst.ids = std::move(*ids);
    else
      out.problems.push_back(node_path(root, e.id, 2) + ": cannot decode " +
                             excerpt(e.nodes[2].data) + "; no ids");
    out.instances.emplace(e.id, std::move(inst));
  }
  return out;
}

}  // namespace iota::model
