#pragma once
// A test's orchestration built from a layout: instance id -> the ids it holds, each with the
// given capacity.
#include <map>
#include <string>
#include <vector>

#include "model/orchestration.hpp"

namespace iota::test {

inline model::orchestration with_instances(std::map<model::instance_id, std::vector<std::string>> layout,
                                           int capacity) {
  model::orchestration::instance_map m;
  for (auto& [id, ids] : layout) {
    model::instance inst;
    inst.capacity = capacity;
    inst.ids = std::move(ids);
    m.emplace(id, std::move(inst));
  }
  return model::orchestration::from_instances(std::move(m), capacity);
}

}  // namespace iota::test
