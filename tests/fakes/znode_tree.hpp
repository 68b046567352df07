#pragma once
// Helpers shared by the model tests: a tiny in-memory znode tree that executes rendered
// change sets with ZooKeeper's rules (create needs a missing node, set/remove an existing
// one with the expected version, remove only leaves), and a loader back into the model.
#include <algorithm>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/change_set.hpp"
#include "model/orchestration.hpp"
#include "model/instance_znodes.hpp"
#include "model/zk_layout.hpp"

namespace iota::test {

struct znode {
  std::string data;
  std::int32_t version = 0;
};

class znode_tree {
 public:
  // Applies one multi atomically: all ops or none (throws on the first failing op).
  void apply(const std::vector<const model::zk_op*>& ops) {
    auto copy = nodes_;
    for (auto* op : ops)
      apply_one(copy, *op);
    nodes_ = std::move(copy);
    ++multis_;
  }

  // Applies every multi of a rendered change set, recording committed versions.
  void commit(const model::rendered_change_set& r, model::orchestration& state) {
    for (auto& multi : r.multis) {
      std::vector<const model::zk_op*> ops;
      for (auto i : multi)
        for (auto& op : r.instances[i].ops)
          ops.push_back(&op);
      apply(ops);
      for (auto i : multi)
        model::record_committed(r.instances[i], state);
    }
  }

  const std::map<std::string, znode>& nodes() const { return nodes_; }
  const std::string& data(const std::string& path) const { return nodes_.at(path).data; }
  bool exists(const std::string& path) const { return nodes_.count(path) != 0; }
  std::size_t multis_applied() const { return multis_; }

  // Reads every instance back as fetchOrchestration does.
  model::orchestration load(const std::string& root, int default_capacity) const {
    return model::orchestration::from_instances(load_instances(root), default_capacity);
  }

  model::orchestration::instance_map load_instances(const std::string& root) const {
    auto f = model::decode_instances(root, read_instances(root));
    if (!f.problems.empty())
      throw std::runtime_error("undecodable instance: " + f.problems.front());
    return std::move(f.instances);
  }

  // The znodes of every instance child of `root`, as a store's fetch reads them.
  std::vector<model::instance_znodes> read_instances(const std::string& root) const {
    std::vector<model::instance_znodes> out;
    auto read = [this](const std::string& path) {
      auto it = nodes_.find(path);
      if (it == nodes_.end())
        return model::znode_read{};
      return model::znode_read{true, it->second.data, it->second.version};
    };
    for (auto& [path, node] : nodes_) {
      if (path.compare(0, root.size() + 1, root + "/") != 0)
        continue;
      auto rest = path.substr(root.size() + 1);
      if (rest.find('/') != std::string::npos)
        continue;
      if (auto id = model::parse_instance_name(rest))
        out.push_back(model::instance_znodes{
          *id, {read(path), read(model::reload_path(root, *id)), read(model::resources_path(root, *id))}});
    }
    return out;
  }

  // An outside writer: sets a node's data, bumping its version as ZooKeeper would.
  void outside_set(const std::string& path, std::string data) {
    auto& n = nodes_.at(path);
    n.data = std::move(data);
    ++n.version;
  }

 private:
  void apply_one(std::map<std::string, znode>& nodes, const model::zk_op& op) {
    using k = model::zk_op::kind;
    auto parent = op.path.substr(0, op.path.rfind('/'));
    auto it = nodes.find(op.path);
    switch (op.type) {
      case k::create:
        if (it != nodes.end())
          throw std::runtime_error("node exists: " + op.path);
        // The resource root is created by the store; below it a parent must exist.
        if (std::count(op.path.begin(), op.path.end(), '/') > 4 && !nodes.count(parent))
          throw std::runtime_error("no parent: " + op.path);
        nodes.emplace(op.path, znode{op.data, 0});
        break;
      case k::set:
        if (it == nodes.end())
          throw std::runtime_error("no node: " + op.path);
        if (op.version >= 0 && op.version != it->second.version)
          throw std::runtime_error("bad version: " + op.path);
        it->second.data = op.data;
        ++it->second.version;
        break;
      case k::remove:
        if (it == nodes.end())
          throw std::runtime_error("no node: " + op.path);
        if (op.version >= 0 && op.version != it->second.version)
          throw std::runtime_error("bad version: " + op.path);
        for (auto& [p, _] : nodes)
          if (p.size() > op.path.size() && p.compare(0, op.path.size() + 1, op.path + "/") == 0)
            throw std::runtime_error("not empty: " + op.path);
        nodes.erase(it);
        break;
      case k::check:
        if (it == nodes.end() || (op.version >= 0 && op.version != it->second.version))
          throw std::runtime_error("check failed: " + op.path);
        break;
    }
  }

  std::map<std::string, znode> nodes_;
  std::size_t multis_ = 0;
};

}  // namespace iota::test
