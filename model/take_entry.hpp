#pragma once
// Removes a map's entry and hands back its value: what a reply or a timer does with the
// request it was waiting for.
#include <optional>
#include <utility>

namespace iota::model {

template <class Map, class Key>
std::optional<typename Map::mapped_type> take_entry(Map& map, const Key& key) {
  auto it = map.find(key);
  if (it == map.end())
    return std::nullopt;
  auto value = std::move(it->second);
  map.erase(it);
  return value;
}

}  // namespace iota::model
