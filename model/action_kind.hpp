#pragma once
// What one notify asks of one resource type; the single vocabulary from the notify parser
// through the orchestrator's message to the planner.
#include <string_view>

namespace iota::model {

enum class action_kind { create, destroy, update, reload_all };
std::string_view to_string(action_kind k);  // "create", "destroy", "update", "reload_all"

}  // namespace iota::model
